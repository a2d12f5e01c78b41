namespace VgMesh.Lvm.Tests;

public class LockdLogTests
{
    // Lines as lvm2-lockd 2.03.16 writes them (lvmlockd-core.c: client_recv_action, res_lock,
    // client_send_result), around one refused LV lock, one refused VG lock, and what is not a
    // refusal: a granted lock, an unlock of a lockspace not found, and a dump request.
    private const string Dump = """
        1765115000 new cl 40 pi 6 fd 11
        1765115000 recv lvchange[901] cl 40 lock lv "san" mode ex flags 0
        1765115000 S lvm_san R 5UtLqO-0GWn-PhrJ-bdfn-NJ3j-PIAb-3T6AbR res_lock cl 40 mode ex (lk1)
        1765115000 S lvm_san R 5UtLqO-0GWn-PhrJ-bdfn-NJ3j-PIAb-3T6AbR lock_san ex at /dev/mapper/san-lvmlock:70254592
        1765115001 send lvchange[901] cl 40 lock lv rv -11
        1765115002 recv lvs[902] cl 41 lock vg "san" mode sh flags 0
        1765115002 S lvm_san R VGLK res_lock cl 41 mode sh
        1765115002 send lvs[902] cl 41 lock vg rv 0
        1765115003 recv lvcreate[903] cl 42 lock vg "san" mode ex flags 0
        1765115003 S lvm_san R VGLK res_lock cl 42 mode ex
        1765115004 send lvcreate[903] cl 42 lock vg rv -11
        1765115005 recv lvchange[904] cl 43 lock lv "san" mode un flags 0
        1765115005 send lvchange[904] cl 43 lock lv rv -210 ENOLS
        1765115006 recv lvmlockctl[905] cl 44 dump "" mode iv flags 0
        1765115006 send lvmlockctl[905] cl 44 dump result 0 dump_len 1024
        """;

    [Fact]
    public void Refusals_LvAndVgLocksRefused_WithCommandPidLvModeAndReason()
    {
        var refused = LockdLog.Refusals(Dump);

        Assert.Equal(2, refused.Length);
        Assert.Equal(new LockRefusal(DateTimeOffset.FromUnixTimeSeconds(1765115001), "lvchange", 901, "lv", "lk1", "ex", -11), refused[0]);
        Assert.Equal("held by another host", refused[0].Reason);
        Assert.Equal(new LockRefusal(DateTimeOffset.FromUnixTimeSeconds(1765115004), "lvcreate", 903, "vg", null, "ex", -11), refused[1]);
    }

    [Fact]
    public void Refusals_RecordedDump_TheHandRunActivationAgainstAnotherHostsLock()
    {
        // Recorded on node3 of an --lockd lab (2026-12-07): lvs and lvchange -aey san/lk1 by hand
        // while node2 held lk1; lvs's VG lock was refused once inside lvmlockd and retried (not a
        // refusal: its answer was rv 0), lvchange's LV lock was refused.
        var refused = Assert.Single(LockdLog.Refusals(Fixture.Read("lvmlockctl-dump.txt")));

        Assert.Equal(new LockRefusal(DateTimeOffset.FromUnixTimeSeconds(1796654780), "lvchange", 864, "lv", "lk1", "ex", -11), refused);
    }

    [Fact]
    public void Refusals_LockspaceNotStarted_SaysSo()
    {
        var refused = LockdLog.Refusals("""
            1765115010 recv lvextend[910] cl 50 lock vg "san" mode ex flags 0
            1765115010 send lvextend[910] cl 50 lock vg rv -210 ENOLS
            """);

        Assert.Equal("the lockspace is not started on this host", Assert.Single(refused).Reason);
    }

    [Fact]
    public void Refusals_ASendWithoutItsRequest_NotCounted()
    {
        // The ring wrapped between a request and its answer: the mode is unknown, so it may be an unlock.
        Assert.Empty(LockdLog.Refusals("1765115020 send lvchange[920] cl 60 lock lv rv -11\n"));
        Assert.Empty(LockdLog.Refusals(""));
    }
}
