using System.Text;

namespace VgMesh.Coordination.Etcd;

/// <summary>Key helpers. Keys are UTF-8; a prefix range ends at the prefix with its last byte incremented.</summary>
public static class Keys
{
    public static byte[] Of(string key) => Encoding.UTF8.GetBytes(key);

    public static string Text(byte[] key) => Encoding.UTF8.GetString(key);

    public static byte[] PrefixEnd(byte[] prefix)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var end = (byte[])prefix.Clone();
        for (var i = end.Length - 1; i >= 0; i--)
        {
            if (end[i] < 0xff)
            {
                end[i]++;
                return end[..(i + 1)];
            }
        }

        return [0]; // every key
    }
}
