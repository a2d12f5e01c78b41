using VgMesh.Lls;

return await LlsApp.RunAsync(args, Console.Out, Console.Error);
