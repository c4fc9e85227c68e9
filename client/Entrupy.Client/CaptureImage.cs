namespace Entrupy.Client;

/// <summary>One capture image to upload.</summary>
/// <param name="FileName">File name sent in the multipart part (the silo only uses it in messages).</param>
/// <param name="Content">The encoded image bytes (PNG, JPEG, TIFF, …).</param>
/// <param name="ContentType">Media type of the part; null: guessed from <paramref name="FileName"/>'s extension.</param>
public sealed record CaptureImage(string FileName, ReadOnlyMemory<byte> Content, string? ContentType = null)
{
    /// <summary>Reads an image file.</summary>
    /// <param name="path">Path of the file.</param>
    public static CaptureImage FromFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return new CaptureImage(Path.GetFileName(path), File.ReadAllBytes(path));
    }

    /// <summary>Reads an image file asynchronously.</summary>
    /// <param name="path">Path of the file.</param>
    /// <param name="ct">Cancels the read.</param>
    public static async Task<CaptureImage> FromFileAsync(string path, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return new CaptureImage(Path.GetFileName(path), await File.ReadAllBytesAsync(path, ct).ConfigureAwait(false));
    }

    /// <summary>The media type sent: <see cref="ContentType"/>, else one guessed from the extension.</summary>
    public string EffectiveContentType => ContentType ?? Path.GetExtension(FileName).ToLowerInvariant() switch
    {
        ".png" => "image/png",
        ".jpg" or ".jpeg" => "image/jpeg",
        ".tif" or ".tiff" => "image/tiff",
        ".bmp" => "image/bmp",
        ".webp" => "image/webp",
        ".pgm" => "image/x-portable-graymap",
        _ => "application/octet-stream",
    };
}
