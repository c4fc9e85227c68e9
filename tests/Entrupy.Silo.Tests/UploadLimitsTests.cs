using System.Net.Http.Headers;
using Entrupy.Silo.Api;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Entrupy.Silo.Tests;

/// <summary>The image-count helper the register endpoint will call, on a real multipart body.</summary>
public sealed class UploadLimitsTests
{
    [Fact]
    public async Task ReadImagesAcceptsUpToTheCapAndRefusesMoreWith413()
    {
        Assert.Equal(3, (await ReadAsync(images: 3, cap: 3)).Count);
        var refused = await Assert.ThrowsAsync<ApiException>(() => ReadAsync(images: 4, cap: 3));
        Assert.Equal(ApiErrorKind.PayloadTooLarge, refused.Kind);
        Assert.Contains("Limits:MaxImagesPerRequest", refused.Message);

        var context = NewContext(cap: 3);
        context.Request.ContentType = "application/json";
        var wrongType = await Assert.ThrowsAsync<ApiException>(() => UploadLimits.ReadImagesAsync(context.Request, CancellationToken.None));
        Assert.Equal(415, wrongType.Kind.Status);
    }

    private static async Task<IFormFileCollection> ReadAsync(int images, int cap)
    {
        using var form = new MultipartFormDataContent();
        for (var i = 0; i < images; i++)
        {
            var part = new ByteArrayContent([0xFF, 0xD8, 0xFF, (byte)i]);
            part.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
            form.Add(part, "images", $"capture-{i}.jpg");
        }
        var context = NewContext(cap);
        context.Request.ContentType = form.Headers.ContentType!.ToString();
        context.Request.Body = new MemoryStream(await form.ReadAsByteArrayAsync());
        return await UploadLimits.ReadImagesAsync(context.Request, CancellationToken.None);
    }

    private static DefaultHttpContext NewContext(int cap)
    {
        var services = new ServiceCollection();
        services.Configure<LimitOptions>(o => o.MaxImagesPerRequest = cap);
        return new DefaultHttpContext { RequestServices = services.BuildServiceProvider() };
    }
}
