using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;

namespace Mesh.Testing.Sidecar;

/// <summary>
/// Checks serialized xDS resources against the official Envoy API protos (as published inside @grpc/grpc-js-xds,
/// compiled into a descriptor set by protoc at test time): strict decoding — every field number and wire type must
/// exist in the official message, every <see cref="Any"/> is unpacked by its type URL and checked in turn, as Envoy
/// does when it loads a typed_config — and the protoc-gen-validate constraints the protos carry in
/// <c>(validate.rules)</c>, <c>(validate.required)</c> on oneofs, and <c>(validate.disabled)</c> on messages.
/// Rule kinds it does not interpret are listed in <see cref="UncheckedRules"/>, never silently passed.
/// </summary>
public sealed class EnvoyProtoValidator
{
    private const int ValidateExtension = 1071;
    private static readonly Lazy<EnvoyProtoValidator> s_official = new(() => new EnvoyProtoValidator(CompileOfficialProtos()));

    private readonly Dictionary<string, DescriptorProto> _messages = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<int>> _enums = new(StringComparer.Ordinal);
    private readonly HashSet<string> _unchecked = new(StringComparer.Ordinal);

    /// <summary>Creates a validator over the messages of <paramref name="files"/>.</summary>
    public EnvoyProtoValidator(FileDescriptorSet files)
    {
        foreach (var file in files.File)
        {
            var prefix = string.IsNullOrEmpty(file.Package) ? "." : "." + file.Package + ".";
            foreach (var message in file.MessageType)
            {
                Index(prefix + message.Name, message);
            }

            foreach (var e in file.EnumType)
            {
                _enums[prefix + e.Name] = [.. e.Value.Select(static v => v.Number)];
            }
        }
    }

    /// <summary>The validator over the official Envoy protos (needs <c>npm ci</c> in tests/interop).</summary>
    public static EnvoyProtoValidator Official => s_official.Value;

    /// <summary>Rule kinds met but not interpreted, as <c>kind.rule</c>.</summary>
    public IReadOnlyCollection<string> UncheckedRules => _unchecked;

    /// <summary>True when the official protos define <paramref name="fullName"/> (without a leading dot).</summary>
    public bool Knows(string fullName) => _messages.ContainsKey("." + fullName);

    /// <summary>Every violation in <paramref name="resource"/>, a packed resource named <paramref name="name"/>.</summary>
    public IReadOnlyList<ProtoViolation> Validate(Any resource, string name)
    {
        var violations = new List<ProtoViolation>();
        var context = new Context(name, violations);
        ValidateAny(resource.ToByteString(), context, string.Empty);
        return violations;
    }

    private void Index(string name, DescriptorProto message)
    {
        _messages[name] = message;
        foreach (var nested in message.NestedType)
        {
            Index(name + "." + nested.Name, nested);
        }

        foreach (var e in message.EnumType)
        {
            _enums[name + "." + e.Name] = [.. e.Value.Select(static v => v.Number)];
        }
    }

    private void ValidateAny(ByteString bytes, Context context, string path)
    {
        var raw = RawMessage.Parse(bytes, out var error);
        if (error is not null)
        {
            context.Add(path, "malformed Any: " + error);
            return;
        }

        var typeUrl = raw.String(1);
        var typeName = "." + typeUrl[(typeUrl.LastIndexOf('/') + 1)..];
        if (!_messages.TryGetValue(typeName, out var descriptor))
        {
            context.Add(path, $"type '{typeUrl}' is not in the Envoy API");
            return;
        }

        ValidateMessage(raw.Bytes(2), descriptor, typeName, context, path + "<" + typeName[1..] + ">");
    }

    private void ValidateMessage(ByteString bytes, DescriptorProto descriptor, string typeName, Context context, string path)
    {
        if (typeName == ".google.protobuf.Any")
        {
            ValidateAny(bytes, context, path);
            return;
        }

        var raw = RawMessage.Parse(bytes, out var error);
        if (error is not null)
        {
            context.Add(path, "malformed message: " + error);
            return;
        }

        var byNumber = descriptor.Field.ToDictionary(static f => f.Number);
        foreach (var (number, values) in raw.Fields)
        {
            if (!byNumber.TryGetValue(number, out var field))
            {
                context.Add(path, $"unknown field number {number} in {typeName[1..]}");
                continue;
            }

            foreach (var value in values)
            {
                if (!WireTypeFits(field, value.WireType))
                {
                    context.Add(path + "." + field.Name, $"wire type {value.WireType} does not fit {field.Type}");
                }
                else if (field.Type == FieldDescriptorProto.Types.Type.Message && _messages.TryGetValue(field.TypeName, out var child))
                {
                    ValidateMessage(value.Bytes, child, field.TypeName, context, path + "." + field.Name);
                }
                else if (field.Type == FieldDescriptorProto.Types.Type.String && !IsUtf8(value.Bytes))
                {
                    context.Add(path + "." + field.Name, "invalid UTF-8");
                }
            }
        }

        if (MessageOption(descriptor.Options?.ToByteString(), ValidateExtension) || MessageOption(descriptor.Options?.ToByteString(), ValidateExtension + 1))
        {
            return; // (validate.disabled) or (validate.ignored)
        }

        for (var i = 0; i < descriptor.OneofDecl.Count; i++)
        {
            if (MessageOption(descriptor.OneofDecl[i].Options?.ToByteString(), ValidateExtension)
                && !descriptor.Field.Any(f => f.HasOneofIndex && f.OneofIndex == i && !f.Proto3Optional && raw.Fields.ContainsKey(f.Number)))
            {
                context.Add(path, $"oneof '{descriptor.OneofDecl[i].Name}' is required");
            }
        }

        foreach (var field in descriptor.Field)
        {
            if (RulesOf(field) is not { } rules)
            {
                continue;
            }

            var present = raw.Fields.TryGetValue(field.Number, out var values);
            var inOneof = field.HasOneofIndex;
            if (!present && inOneof)
            {
                continue;
            }

            CheckField(field, rules, values ?? [], present, context, path + "." + field.Name);
        }
    }

    private void CheckField(FieldDescriptorProto field, RawMessage rules, List<RawValue> values, bool present, Context context, string path)
    {
        if (field.Label == FieldDescriptorProto.Types.Label.Repeated)
        {
            var kind = IsMapEntry(field) ? 19 : 18;
            if (rules.Fields.TryGetValue(kind, out var containerRules))
            {
                var container = RawMessage.Parse(containerRules[^1].Bytes, out _);
                var count = values.Count;
                if (!(container.Bool(kind == 18 ? 5 : 6) && count == 0))
                {
                    if (container.Has(1) && count < (long)container.Number(1))
                    {
                        context.Add(path, $"needs at least {container.Number(1)} item(s), has {count}");
                    }

                    if (container.Has(2) && count > (long)container.Number(2))
                    {
                        context.Add(path, $"allows at most {container.Number(2)} item(s), has {count}");
                    }
                }

                if (kind == 18 && container.Has(4))
                {
                    var items = RawMessage.Parse(container.Bytes(4), out _);
                    foreach (var value in values)
                    {
                        CheckSingle(field, items, value, context, path + "[]");
                    }
                }

                foreach (var other in container.Fields.Keys.Where(static k => k is not (1 or 2 or 4 or 5 or 6)))
                {
                    _unchecked.Add((kind == 18 ? "repeated." : "map.") + other.ToString(CultureInfo.InvariantCulture));
                }
            }

            return;
        }

        if (field.Type == FieldDescriptorProto.Types.Type.Message)
        {
            if (rules.Fields.TryGetValue(17, out var messageRules) && RawMessage.Parse(messageRules[^1].Bytes, out _).Bool(2) && !present)
            {
                context.Add(path, "is required");
            }

            if (rules.Fields.TryGetValue(20, out var anyRules) && RawMessage.Parse(anyRules[^1].Bytes, out _).Bool(1) && !present)
            {
                context.Add(path, "is required");
            }

            if (rules.Fields.TryGetValue(21, out var durationRules))
            {
                var duration = RawMessage.Parse(durationRules[^1].Bytes, out _);
                if (duration.Bool(1) && !present)
                {
                    context.Add(path, "is required");
                }
            }
        }

        if (field.Proto3Optional && !present)
        {
            return;
        }

        CheckSingle(field, rules, present ? values[^1] : null, context, path);
    }

    private void CheckSingle(FieldDescriptorProto field, RawMessage rules, RawValue? value, Context context, string path)
    {
        foreach (var (kind, kindValues) in rules.Fields)
        {
            var kindRules = RawMessage.Parse(kindValues[^1].Bytes, out _);
            switch (kind)
            {
                case 14 when field.Type == FieldDescriptorProto.Types.Type.String:
                    CheckString(kindRules, value is null ? string.Empty : value.Bytes.ToStringUtf8(), context, path);
                    break;
                case 15:
                    CheckLengths(kindRules, value is null ? 0 : value.Bytes.Length, "bytes", context, path);
                    break;
                case >= 1 and <= 12:
                    if (NumericValue(field, value) is { } number)
                    {
                        CheckNumber(kind, kindRules, number, context, path);
                    }

                    break;
                case 16:
                    var enumValue = value is null ? 0 : (int)(long)value.Number;
                    if (kindRules.Bool(2) && _enums.TryGetValue(field.TypeName, out var defined) && !defined.Contains(enumValue))
                    {
                        context.Add(path, $"enum value {enumValue} is not defined in {field.TypeName[1..]}");
                    }

                    break;
                case 21 when value is not null:
                    CheckDuration(kindRules, value.Bytes, context, path);
                    break;
                case 13 or 17 or 18 or 19 or 20 or 21:
                    break;
                default:
                    _unchecked.Add("kind." + kind.ToString(CultureInfo.InvariantCulture));
                    break;
            }
        }
    }

    private void CheckString(RawMessage rules, string text, Context context, string path)
    {
        if (rules.Bool(26) && text.Length == 0)
        {
            return;
        }

        var runes = text.EnumerateRunes().Count();
        if (rules.Has(1) && text != rules.String(1))
        {
            context.Add(path, $"must equal '{rules.String(1)}'");
        }

        if (rules.Has(19) && runes != (long)rules.Number(19))
        {
            context.Add(path, $"must be {rules.Number(19)} characters long");
        }

        CheckLengths(rules, runes, "character", context, path);
        var bytes = Encoding.UTF8.GetByteCount(text);
        if (rules.Has(4) && bytes < (long)rules.Number(4))
        {
            context.Add(path, $"needs at least {rules.Number(4)} byte(s)");
        }

        if (rules.Has(5) && bytes > (long)rules.Number(5))
        {
            context.Add(path, $"allows at most {rules.Number(5)} byte(s)");
        }

        if (rules.Has(6) && !Regex.IsMatch(text, rules.String(6), RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1)))
        {
            context.Add(path, $"'{text}' does not match /{rules.String(6)}/");
        }

        if (rules.Has(7) && !text.StartsWith(rules.String(7), StringComparison.Ordinal))
        {
            context.Add(path, $"must start with '{rules.String(7)}'");
        }

        if (rules.Has(8) && !text.EndsWith(rules.String(8), StringComparison.Ordinal))
        {
            context.Add(path, $"must end with '{rules.String(8)}'");
        }

        if (rules.Has(9) && !text.Contains(rules.String(9), StringComparison.Ordinal))
        {
            context.Add(path, $"must contain '{rules.String(9)}'");
        }

        if (rules.Has(23) && text.Contains(rules.String(23), StringComparison.Ordinal))
        {
            context.Add(path, $"must not contain '{rules.String(23)}'");
        }

        if (rules.Fields.TryGetValue(10, out var allowed) && !allowed.Any(a => a.Bytes.ToStringUtf8() == text))
        {
            context.Add(path, $"'{text}' is not one of the allowed values");
        }

        if (rules.Fields.TryGetValue(11, out var forbidden) && forbidden.Any(a => a.Bytes.ToStringUtf8() == text))
        {
            context.Add(path, $"'{text}' is a forbidden value");
        }

        if (rules.Has(24))
        {
            var strict = !rules.Has(25) || rules.Bool(25);
            var ok = (long)rules.Number(24) switch
            {
                1 => strict ? Regex.IsMatch(text, "^:?[0-9a-zA-Z!#$%&'*+\\-.^_|~`]+$") : !text.Contains('\0') && !text.Contains('\r') && !text.Contains('\n'),
                2 => strict ? !text.Any(static c => c is '\0' or '\n' or '\r') : !text.Contains('\0') && !text.Contains('\r') && !text.Contains('\n'),
                _ => true,
            };
            if (!ok)
            {
                context.Add(path, $"'{text}' is not a valid HTTP header {((long)rules.Number(24) == 1 ? "name" : "value")}");
            }
        }

        if ((rules.Bool(14) || rules.Bool(15) || rules.Bool(16)) && !System.Net.IPAddress.TryParse(text, out _))
        {
            context.Add(path, $"'{text}' is not an IP address");
        }

        foreach (var other in rules.Fields.Keys.Where(static k => k is 12 or 13 or 17 or 18 or 21 or 22))
        {
            _unchecked.Add("string." + other.ToString(CultureInfo.InvariantCulture));
        }
    }

    private static void CheckLengths(RawMessage rules, long length, string unit, Context context, string path)
    {
        if (rules.Has(2) && length < (long)rules.Number(2))
        {
            context.Add(path, $"needs at least {rules.Number(2)} {unit}(s), has {length}");
        }

        if (rules.Has(3) && length > (long)rules.Number(3))
        {
            context.Add(path, $"allows at most {rules.Number(3)} {unit}(s), has {length}");
        }
    }

    private static void CheckNumber(int kind, RawMessage rules, decimal value, Context context, string path)
    {
        decimal? Rule(int number) => rules.Fields.TryGetValue(number, out var v) ? Decode(kind, v[^1]) : null;
        if (Rule(1) is { } exact && value != exact)
        {
            context.Add(path, $"must equal {exact}");
        }

        var lt = Rule(2);
        var lte = Rule(3);
        var gt = Rule(4);
        var gte = Rule(5);
        if (lt is { } a && value >= a)
        {
            context.Add(path, $"{value} must be < {a}");
        }

        if (lte is { } b && value > b)
        {
            context.Add(path, $"{value} must be <= {b}");
        }

        if (gt is { } c && value <= c)
        {
            context.Add(path, $"{value} must be > {c}");
        }

        if (gte is { } d && value < d)
        {
            context.Add(path, $"{value} must be >= {d}");
        }

        if (rules.Fields.TryGetValue(6, out var allowed) && !allowed.Any(v => Decode(kind, v) == value))
        {
            context.Add(path, $"{value} is not one of the allowed values");
        }

        if (rules.Fields.TryGetValue(7, out var forbidden) && forbidden.Any(v => Decode(kind, v) == value))
        {
            context.Add(path, $"{value} is a forbidden value");
        }
    }

    private static void CheckDuration(RawMessage rules, ByteString bytes, Context context, string path)
    {
        var duration = RawMessage.Parse(bytes, out _);
        var nanos = ((decimal)(long)duration.Number(1) * 1_000_000_000m) + (int)(long)duration.Number(2);
        decimal? Rule(int number) => rules.Has(number)
            ? ((decimal)(long)RawMessage.Parse(rules.Bytes(number), out _).Number(1) * 1_000_000_000m) + (int)(long)RawMessage.Parse(rules.Bytes(number), out _).Number(2)
            : null;
        if (Rule(2) is { } exact && nanos != exact)
        {
            context.Add(path, "duration must equal " + exact + "ns");
        }

        if (Rule(3) is { } lt && nanos >= lt)
        {
            context.Add(path, $"duration {nanos}ns must be < {lt}ns");
        }

        if (Rule(4) is { } lte && nanos > lte)
        {
            context.Add(path, $"duration {nanos}ns must be <= {lte}ns");
        }

        if (Rule(5) is { } gt && nanos <= gt)
        {
            context.Add(path, $"duration {nanos}ns must be > {gt}ns");
        }

        if (Rule(6) is { } gte && nanos < gte)
        {
            context.Add(path, $"duration {nanos}ns must be >= {gte}ns");
        }
    }

    private static decimal Decode(int kind, RawValue value) => kind switch
    {
        1 => (decimal)BitConverter.Int32BitsToSingle((int)value.Number),
        2 => (decimal)BitConverter.Int64BitsToDouble((long)value.Number),
        3 or 4 or 11 or 12 => (long)value.Number,
        7 or 8 => (long)(value.Number >> 1) ^ -(long)(value.Number & 1),
        _ => value.Number,
    };

    private static decimal? NumericValue(FieldDescriptorProto field, RawValue? value)
    {
        if (field.Type == FieldDescriptorProto.Types.Type.Message)
        {
            if (value is null || !field.TypeName.StartsWith(".google.protobuf.", StringComparison.Ordinal))
            {
                return null; // wrapper not set: rules apply only to a set value.
            }

            var inner = RawMessage.Parse(value.Bytes, out _);
            return field.TypeName switch
            {
                ".google.protobuf.DoubleValue" => (decimal)BitConverter.Int64BitsToDouble((long)inner.Number(1)),
                ".google.protobuf.FloatValue" => (decimal)BitConverter.Int32BitsToSingle((int)inner.Number(1)),
                ".google.protobuf.Int32Value" or ".google.protobuf.Int64Value" => (long)inner.Number(1),
                _ => inner.Number(1),
            };
        }

        if (value is null)
        {
            return 0;
        }

        return field.Type switch
        {
            FieldDescriptorProto.Types.Type.Double => (decimal)BitConverter.Int64BitsToDouble((long)value.Number),
            FieldDescriptorProto.Types.Type.Float => (decimal)BitConverter.Int32BitsToSingle((int)value.Number),
            FieldDescriptorProto.Types.Type.Int32 or FieldDescriptorProto.Types.Type.Int64
                or FieldDescriptorProto.Types.Type.Sfixed32 or FieldDescriptorProto.Types.Type.Sfixed64 => (long)value.Number,
            FieldDescriptorProto.Types.Type.Sint32 or FieldDescriptorProto.Types.Type.Sint64 => (long)(value.Number >> 1) ^ -(long)(value.Number & 1),
            _ => value.Number,
        };
    }

    private bool IsMapEntry(FieldDescriptorProto field) =>
        field.Type == FieldDescriptorProto.Types.Type.Message && _messages.TryGetValue(field.TypeName, out var entry) && entry.Options?.MapEntry == true;

    private static RawMessage? RulesOf(FieldDescriptorProto field)
    {
        if (field.Options is null)
        {
            return null;
        }

        var options = RawMessage.Parse(field.Options.ToByteString(), out _);
        return options.Has(ValidateExtension) ? RawMessage.Parse(options.Bytes(ValidateExtension), out _) : null;
    }

    private static bool MessageOption(ByteString? options, int number) =>
        options is not null && RawMessage.Parse(options, out _) is var raw && raw.Has(number) && raw.Bool(number);

    private static bool WireTypeFits(FieldDescriptorProto field, WireFormat.WireType wireType)
    {
        var expected = field.Type switch
        {
            FieldDescriptorProto.Types.Type.Double or FieldDescriptorProto.Types.Type.Fixed64 or FieldDescriptorProto.Types.Type.Sfixed64 => WireFormat.WireType.Fixed64,
            FieldDescriptorProto.Types.Type.Float or FieldDescriptorProto.Types.Type.Fixed32 or FieldDescriptorProto.Types.Type.Sfixed32 => WireFormat.WireType.Fixed32,
            FieldDescriptorProto.Types.Type.String or FieldDescriptorProto.Types.Type.Bytes or FieldDescriptorProto.Types.Type.Message => WireFormat.WireType.LengthDelimited,
            FieldDescriptorProto.Types.Type.Group => WireFormat.WireType.StartGroup,
            _ => WireFormat.WireType.Varint,
        };
        return wireType == expected
            || (field.Label == FieldDescriptorProto.Types.Label.Repeated && wireType == WireFormat.WireType.LengthDelimited && expected != WireFormat.WireType.LengthDelimited);
    }

    private static bool IsUtf8(ByteString bytes)
    {
        try
        {
            _ = new UTF8Encoding(false, true).GetString(bytes.Span);
            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }

    private static FileDescriptorSet CompileOfficialProtos()
    {
        var deps = RepositoryPaths.GrpcJsXdsDeps;
        if (!Directory.Exists(Path.Combine(deps, "envoy-api")))
        {
            throw new InvalidOperationException(
                $"The official Envoy protos are missing ({deps}). Run `npm ci` in tests/interop (test.sh does this) and run the tests again.");
        }

        var nuget = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var tools = Directory.GetDirectories(Path.Combine(nuget, "grpc.tools")).Order(StringComparer.Ordinal).Last();
        var platform = OperatingSystem.IsWindows() ? "windows_x64" : OperatingSystem.IsMacOS() ? "macosx_x64" : System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? "linux_arm64" : "linux_x64";
        var protoc = Path.Combine(tools, "tools", platform, OperatingSystem.IsWindows() ? "protoc.exe" : "protoc");
        var output = Path.Combine(Path.GetTempPath(), $"mesh-envoy-api-{Environment.ProcessId}.pb");
        string[] roots =
        [
            "envoy/config/listener/v3/listener.proto",
            "envoy/config/cluster/v3/cluster.proto",
            "envoy/config/route/v3/route.proto",
            "envoy/config/endpoint/v3/endpoint.proto",
            "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto",
            "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto",
            "envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto",
            "envoy/extensions/filters/listener/http_inspector/v3/http_inspector.proto",
            "envoy/extensions/filters/listener/original_dst/v3/original_dst.proto",
            "envoy/extensions/transport_sockets/raw_buffer/v3/raw_buffer.proto",
            "envoy/extensions/transport_sockets/tls/v3/tls.proto",
            "envoy/extensions/filters/http/router/v3/router.proto",
            "envoy/extensions/filters/http/fault/v3/fault.proto",
            "envoy/extensions/filters/http/rbac/v3/rbac.proto",
            "envoy/extensions/upstreams/http/v3/http_protocol_options.proto",
        ];
        var start = new ProcessStartInfo(protoc)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        // The validate.proto published beside the Envoy protos predates StringRules.ignore_empty (field 26), which
        // 17 Envoy fields use; protoc rejects them without it. Compile against a copy with that one field added.
        var validateDir = Path.Combine(Path.GetTempPath(), $"mesh-pgv-{Environment.ProcessId}");
        Directory.CreateDirectory(Path.Combine(validateDir, "validate"));
        var validateProto = File.ReadAllText(Path.Combine(deps, "protoc-gen-validate", "validate", "validate.proto"));
        if (!validateProto.Contains("ignore_empty", StringComparison.Ordinal))
        {
            validateProto = validateProto.Replace("message StringRules {", "message StringRules {\n    optional bool ignore_empty = 26;", StringComparison.Ordinal);
        }

        File.WriteAllText(Path.Combine(validateDir, "validate", "validate.proto"), validateProto);
        foreach (var include in new[] { Path.Combine(deps, "envoy-api"), Path.Combine(deps, "xds"), Path.Combine(deps, "googleapis"), validateDir, Path.Combine(tools, "build", "native", "include") })
        {
            start.ArgumentList.Add("-I" + include);
        }

        start.ArgumentList.Add("--include_imports");
        start.ArgumentList.Add("--descriptor_set_out=" + output);
        foreach (var root in roots)
        {
            start.ArgumentList.Add(root);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("protoc did not start: " + protoc);
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException("protoc timed out");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"protoc failed ({process.ExitCode}): {stderr.Result}");
        }

        try
        {
            return FileDescriptorSet.Parser.ParseFrom(File.ReadAllBytes(output));
        }
        finally
        {
            File.Delete(output);
            Directory.Delete(validateDir, recursive: true);
        }
    }

    private sealed class Context(string resource, List<ProtoViolation> violations)
    {
        public void Add(string path, string message) => violations.Add(new ProtoViolation(resource, path, message));
    }
}
