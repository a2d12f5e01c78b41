namespace VgMesh.Cluster;

/// <summary>Operation ids are the idempotency keys callers choose, checked before anything is submitted: 1-128 of <c>[A-Za-z0-9._-]</c>, not starting with '.' or '-'.</summary>
public static class OperationIds
{
    public static string Validate(string? id)
    {
        if (string.IsNullOrEmpty(id) || id.Length > 128 || id[0] is '.' or '-' ||
            !id.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
        {
            throw new ArgumentException($"operation id '{id}' is not valid: use 1-128 of A-Z a-z 0-9 . _ - (not starting with '.' or '-'), e.g. a UUID.", nameof(id));
        }

        return id;
    }

    public static string New() => Guid.NewGuid().ToString("N");
}
