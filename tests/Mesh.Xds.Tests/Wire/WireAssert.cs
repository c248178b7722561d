using Google.Protobuf;

namespace Mesh.Xds.Tests.Wire;

internal static class WireAssert
{
    /// <summary>
    /// Parses <paramref name="bytes"/> with <paramref name="parser"/>, dropping unknown fields, and asserts that
    /// nothing was dropped: every field written (by official field number) is a field our schema knows.
    /// The bytes must not spell out default values, which proto3 does not re-encode.
    /// </summary>
    public static T ParseKnown<T>(MessageParser<T> parser, byte[] bytes)
        where T : IMessage<T>
    {
        var message = parser.WithDiscardUnknownFields(true).ParseFrom(bytes);
        Assert.Equal(bytes.Length, message.CalculateSize());
        return message;
    }
}
