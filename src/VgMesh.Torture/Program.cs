using VgMesh.Torture;

return await TortureApp.RunAsync(args, Console.Out, Console.Error);
