using Entrupy.Grains.Persistence.AzureStorage.Rest;

namespace Entrupy.Grains.Persistence.AzureStorage.Tests;

public sealed class ConnectionStringTests
{
    [Fact]
    public void Development_storage_means_azurite_on_its_default_port_with_the_well_known_key()
    {
        var parsed = StorageConnectionString.Parse("UseDevelopmentStorage=true");
        Assert.Equal("devstoreaccount1", parsed.AccountName);
        Assert.Equal(new Uri("http://127.0.0.1:10000/devstoreaccount1"), parsed.BlobEndpoint);
        Assert.Equal(Convert.FromBase64String(StorageConnectionString.DevelopmentAccountKey), parsed.AccountKey);
    }

    [Fact]
    public void Account_and_suffix_build_the_public_endpoint_and_keys_keep_their_padding()
    {
        var parsed = StorageConnectionString.Parse(
            " DefaultEndpointsProtocol=https ; AccountName=entrupy;AccountKey=a2V5LWJ5dGVzLTE=;EndpointSuffix=core.windows.net;");
        Assert.Equal("entrupy", parsed.AccountName);
        Assert.Equal(new Uri("https://entrupy.blob.core.windows.net"), parsed.BlobEndpoint);
        Assert.Equal("key-bytes-1"u8.ToArray(), parsed.AccountKey);
        Assert.DoesNotContain("a2V5", parsed.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void An_explicit_blob_endpoint_wins()
    {
        var parsed = StorageConnectionString.Parse("AccountName=devstoreaccount1;AccountKey=" + StorageConnectionString.DevelopmentAccountKey +
                                                   ";BlobEndpoint=http://127.0.0.1:45678/devstoreaccount1;");
        Assert.Equal(new Uri("http://127.0.0.1:45678/devstoreaccount1"), parsed.BlobEndpoint);
    }

    [Theory]
    [InlineData("AccountKey=a2V5", "AccountName is missing")]
    [InlineData("AccountName=x", "AccountKey is missing")]
    [InlineData("AccountName=x;AccountKey=not base64!", "not valid base64")]
    [InlineData("BlobEndpoint=https://x.blob.core.windows.net;SharedAccessSignature=sv=2021", "SAS tokens are not supported")]
    [InlineData("AccountName=x;AccountKey=a2V5;BlobEndpoint=ftp://x", "not an http(s) URL")]
    [InlineData("garbage", "not a Name=Value pair")]
    public void Unusable_strings_fail_with_a_message_that_says_why(string connectionString, string expected)
    {
        var error = Assert.Throws<FormatException>(() => StorageConnectionString.Parse(connectionString));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_string_to_sign_follows_the_documented_layout()
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, "http://127.0.0.1:10000/devstoreaccount1/box/a%20b/c?timeout=5&comp=block&blockid=x%2By");
        request.Content = new ByteArrayContent(new byte[3]);
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/octet-stream");
        request.Headers.TryAddWithoutValidation("If-Match", "\"0x1\"");
        request.Headers.TryAddWithoutValidation("x-ms-version", "2021-08-06");
        request.Headers.TryAddWithoutValidation("x-ms-date", "Sun, 22 Nov 2026 03:00:00 GMT");
        request.Headers.TryAddWithoutValidation("X-MS-Blob-Type", "BlockBlob");

        var expected = string.Join('\n',
            "PUT", "", "", "3", "", "application/octet-stream", "", "", "\"0x1\"", "", "", "",
            "x-ms-blob-type:BlockBlob", "x-ms-date:Sun, 22 Nov 2026 03:00:00 GMT", "x-ms-version:2021-08-06",
            "/devstoreaccount1/devstoreaccount1/box/a%20b/c", "blockid:x+y", "comp:block", "timeout:5");
        Assert.Equal(expected, SharedKeySigner.BuildStringToSign(request, "devstoreaccount1"));
    }
}
