using System.Text.Json.Serialization;

namespace VgMesh.Coordination.Etcd;

// The etcd v3 gateway's JSON (proto3 mapping): bytes are base64, 64-bit integers are strings,
// and zero values, false and empty lists are left out, so every field has a default.

public sealed class ResponseHeader
{
    public long Revision { get; set; }
    public ulong MemberId { get; set; }
    public ulong RaftTerm { get; set; }
}

public sealed class KeyValue
{
    public byte[] Key { get; set; } = [];
    public byte[] Value { get; set; } = [];
    public long CreateRevision { get; set; }
    public long ModRevision { get; set; }
    public long Version { get; set; }
    public long Lease { get; set; }
}

public sealed class RangeRequest
{
    public byte[] Key { get; set; } = [];
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public byte[]? RangeEnd { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public long Limit { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public long Revision { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? SortOrder { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? SortTarget { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public bool KeysOnly { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public bool CountOnly { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public long MinModRevision { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public long MaxModRevision { get; set; }
}

public sealed class RangeResponse
{
    public ResponseHeader Header { get; set; } = new();
    public List<KeyValue> Kvs { get; set; } = [];
    public bool More { get; set; }
    public long Count { get; set; }
}

public sealed class PutRequest
{
    public byte[] Key { get; set; } = [];
    public byte[] Value { get; set; } = [];
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public long Lease { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public bool PrevKv { get; set; }
}

public sealed class PutResponse
{
    public ResponseHeader Header { get; set; } = new();
}

public sealed class DeleteRangeRequest
{
    public byte[] Key { get; set; } = [];
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public byte[]? RangeEnd { get; set; }
}

public sealed class DeleteRangeResponse
{
    public ResponseHeader Header { get; set; } = new();
    public long Deleted { get; set; }
}

public sealed class Compare
{
    public byte[] Key { get; set; } = [];
    /// <summary>VERSION, CREATE, MOD, VALUE or LEASE.</summary>
    public string Target { get; set; } = "";
    /// <summary>EQUAL, GREATER, LESS or NOT_EQUAL.</summary>
    public string Result { get; set; } = "EQUAL";
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public long? Version { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public long? CreateRevision { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public long? ModRevision { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public byte[]? Value { get; set; }

    public static Compare CreateRevisionIs(byte[] key, long revision) => new() { Key = key, Target = "CREATE", CreateRevision = revision };

    public static Compare VersionIs(byte[] key, long version) => new() { Key = key, Target = "VERSION", Version = version };

    public static Compare ModRevisionIs(byte[] key, long revision) => new() { Key = key, Target = "MOD", ModRevision = revision };

    public static Compare ValueIs(byte[] key, byte[] value) => new() { Key = key, Target = "VALUE", Value = value };

    /// <summary>The key does not exist (version 0).</summary>
    public static Compare Absent(byte[] key) => VersionIs(key, 0);
}

public sealed class RequestOp
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public RangeRequest? RequestRange { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public PutRequest? RequestPut { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public DeleteRangeRequest? RequestDeleteRange { get; set; }

    public static RequestOp Put(byte[] key, byte[] value, long lease = 0) => new() { RequestPut = new PutRequest { Key = key, Value = value, Lease = lease } };

    public static RequestOp Get(byte[] key) => new() { RequestRange = new RangeRequest { Key = key } };

    public static RequestOp Delete(byte[] key) => new() { RequestDeleteRange = new DeleteRangeRequest { Key = key } };
}

public sealed class TxnRequest
{
    public List<Compare> Compare { get; set; } = [];
    public List<RequestOp> Success { get; set; } = [];
    public List<RequestOp> Failure { get; set; } = [];
}

public sealed class ResponseOp
{
    public RangeResponse? ResponseRange { get; set; }
    public PutResponse? ResponsePut { get; set; }
    public DeleteRangeResponse? ResponseDeleteRange { get; set; }
}

public sealed class TxnResponse
{
    public ResponseHeader Header { get; set; } = new();
    public bool Succeeded { get; set; }
    public List<ResponseOp> Responses { get; set; } = [];
}

public sealed class CompactionRequest
{
    public long Revision { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public bool Physical { get; set; }
}

public sealed class LeaseGrantRequest
{
    [JsonPropertyName("TTL")] public long Ttl { get; set; }
}

public sealed class LeaseGrantResponse
{
    public ResponseHeader Header { get; set; } = new();
    [JsonPropertyName("ID")] public long Id { get; set; }
    [JsonPropertyName("TTL")] public long Ttl { get; set; }
    public string? Error { get; set; }
}

public sealed class LeaseIdRequest
{
    [JsonPropertyName("ID")] public long Id { get; set; }
}

public sealed class LeaseKeepAliveResponse
{
    public ResponseHeader Header { get; set; } = new();
    [JsonPropertyName("ID")] public long Id { get; set; }
    [JsonPropertyName("TTL")] public long Ttl { get; set; }
}

public sealed class LeaseTimeToLiveResponse
{
    public ResponseHeader Header { get; set; } = new();
    [JsonPropertyName("ID")] public long Id { get; set; }
    [JsonPropertyName("TTL")] public long Ttl { get; set; }
    public long GrantedTtl { get; set; }
}

public sealed class WatchCreateRequest
{
    public byte[] Key { get; set; } = [];
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public byte[]? RangeEnd { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public long StartRevision { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public bool PrevKv { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public bool ProgressNotify { get; set; }
}

public sealed class WatchRequest
{
    public WatchCreateRequest CreateRequest { get; set; } = new();
}

public sealed class WatchEvent
{
    /// <summary>PUT (left out, being proto3's zero) or DELETE.</summary>
    public string Type { get; set; } = "PUT";
    public KeyValue Kv { get; set; } = new();
    public KeyValue? PrevKv { get; set; }
}

public sealed class WatchResponse
{
    public ResponseHeader Header { get; set; } = new();
    public long WatchId { get; set; }
    public bool Created { get; set; }
    public bool Canceled { get; set; }
    public long CompactRevision { get; set; }
    public string? CancelReason { get; set; }
    public List<WatchEvent> Events { get; set; } = [];
}

public sealed class LeaderKey
{
    public byte[] Name { get; set; } = [];
    public byte[] Key { get; set; } = [];
    public long Rev { get; set; }
    public long Lease { get; set; }
}

public sealed class CampaignRequest
{
    public byte[] Name { get; set; } = [];
    public long Lease { get; set; }
    public byte[] Value { get; set; } = [];
}

public sealed class CampaignResponse
{
    public ResponseHeader Header { get; set; } = new();
    public LeaderKey? Leader { get; set; }
}

public sealed class LeaderRequest
{
    public byte[] Name { get; set; } = [];
}

public sealed class LeaderResponse
{
    public ResponseHeader Header { get; set; } = new();
    public KeyValue? Kv { get; set; }
}

public sealed class ResignRequest
{
    public LeaderKey Leader { get; set; } = new();
}

public sealed class ResignResponse
{
    public ResponseHeader Header { get; set; } = new();
}

/// <summary>One message of a streamed response: a result or an error.</summary>
public sealed class StreamEnvelope<T>
    where T : class
{
    public T? Result { get; set; }
    public StreamError? Error { get; set; }
}

public sealed class StreamError
{
    public int GrpcCode { get; set; }
    public int HttpCode { get; set; }
    public string? Message { get; set; }
}

/// <summary>A unary error body: <c>{"error": "...", "message": "...", "code": N}</c>.</summary>
public sealed class ErrorBody
{
    public string? Error { get; set; }
    public string? Message { get; set; }
    public int Code { get; set; }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    NumberHandling = JsonNumberHandling.AllowReadingFromString | JsonNumberHandling.WriteAsString,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(RangeRequest))]
[JsonSerializable(typeof(RangeResponse))]
[JsonSerializable(typeof(PutRequest))]
[JsonSerializable(typeof(PutResponse))]
[JsonSerializable(typeof(DeleteRangeRequest))]
[JsonSerializable(typeof(DeleteRangeResponse))]
[JsonSerializable(typeof(TxnRequest))]
[JsonSerializable(typeof(TxnResponse))]
[JsonSerializable(typeof(CompactionRequest))]
[JsonSerializable(typeof(LeaseGrantRequest))]
[JsonSerializable(typeof(LeaseGrantResponse))]
[JsonSerializable(typeof(LeaseIdRequest))]
[JsonSerializable(typeof(LeaseTimeToLiveResponse))]
[JsonSerializable(typeof(StreamEnvelope<LeaseKeepAliveResponse>))]
[JsonSerializable(typeof(WatchRequest))]
[JsonSerializable(typeof(StreamEnvelope<WatchResponse>))]
[JsonSerializable(typeof(CampaignRequest))]
[JsonSerializable(typeof(CampaignResponse))]
[JsonSerializable(typeof(LeaderRequest))]
[JsonSerializable(typeof(LeaderResponse))]
[JsonSerializable(typeof(ResignRequest))]
[JsonSerializable(typeof(ResignResponse))]
[JsonSerializable(typeof(ErrorBody))]
internal sealed partial class EtcdJsonContext : JsonSerializerContext;
