

global using ClusterNode = VgMesh.Bench.LocalClusterNode<VgMesh.Cluster.Tests.Coordinator.ScriptedHandler>;
