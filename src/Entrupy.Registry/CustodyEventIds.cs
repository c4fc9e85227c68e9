using System.Security.Cryptography;
using System.Text;

namespace Entrupy.Registry;

/// <summary>Stable EPCIS eventIDs for custody events whose client sent none, so a retried request records its event once.</summary>
public static class CustodyEventIds
{
    /// <summary>A <c>urn:uuid:</c> (RFC 9562 version 8) derived from the item and the request's id.</summary>
    public static string Derive(ItemKey item, string requestId)
    {
        ArgumentException.ThrowIfNullOrEmpty(requestId);
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes("custody\n" + item + "\n" + requestId));
        hash[6] = (byte)((hash[6] & 0x0F) | 0x80);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return "urn:uuid:" + new Guid(hash.AsSpan(0, 16), bigEndian: true).ToString("D");
    }
}
