namespace VgMesh.Lvm.Commands;

/// <summary>
/// The right to run one metadata-changing LVM command. LVM 2.03.16 does not enforce
/// <c>global/metadata_read_only</c> for lvcreate/lvremove (seen in the lab: its locking
/// reports <c>metadata_read_only:0</c> even when set), so the guard that really keeps a
/// second writer out is this permit: the runner refuses a write without one and asks it,
/// right before the process starts, whether it still holds.
/// </summary>
public abstract class MetadataWritePermit
{
    /// <summary>Who writes (host name), for the journal.</summary>
    public abstract string Holder { get; }

    /// <summary>The fencing token the write is made under (the leader key's create revision; 0 on a single host).</summary>
    public abstract long FencingToken { get; }

    /// <summary>Throws when the permit no longer holds (leadership lost, lease about to expire).</summary>
    public abstract void EnsureValid();

    /// <summary>For a single-host install, where no other writer can exist, and for the lab's driver tests.</summary>
    public static MetadataWritePermit SingleHost(string holder) => new SingleHostPermit(holder);

    private sealed class SingleHostPermit(string holder) : MetadataWritePermit
    {
        public override string Holder => holder;

        public override long FencingToken => 0;

        public override void EnsureValid()
        {
        }
    }
}
