namespace Entrupy.Client.Tests.Support;

public static class Clients
{
    public const string TestKey = "ek_test_key_for_the_fault_server";

    /// <summary>Options with short backoffs so retry tests stay quick.</summary>
    public static EntrupyClientOptions Options(Uri baseAddress, int maxRetries = 3, TimeSpan? timeout = null) => new()
    {
        BaseAddress = baseAddress,
        ApiKey = TestKey,
        MaxRetries = maxRetries,
        InitialBackoff = TimeSpan.FromMilliseconds(10),
        MaxBackoff = TimeSpan.FromMilliseconds(100),
        Timeout = timeout ?? TimeSpan.FromSeconds(10),
    };

    public static CaptureImage Image(string name = "capture.png", int size = 64)
    {
        var bytes = new byte[size];
        for (var i = 0; i < size; i++) bytes[i] = (byte)(i * 7 + name.Length);
        return new CaptureImage(name, bytes);
    }
}
