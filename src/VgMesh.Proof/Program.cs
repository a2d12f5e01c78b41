using VgMesh.Proof;

return await ProofApp.RunAsync(args, Console.Out, Console.Error);
