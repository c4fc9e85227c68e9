using System.Diagnostics;

namespace Entrupy.Grains.Runtime.Statistics;

/// <summary>
/// Counters of one grain type. Striped by thread so concurrent callers on different cores do not fight over one
/// cache line; a snapshot sums the stripes.
/// </summary>
internal sealed class GrainTypeCounters
{
    private static readonly int StripeMask = (int)Math.Min(64, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Environment.ProcessorCount * 2)) - 1;
    private static readonly double NanosecondsPerTick = 1_000_000_000.0 / Stopwatch.Frequency;

    private readonly Stripe[] _stripes;
    private long _activations;

    public GrainTypeCounters(string grainType)
    {
        GrainType = grainType;
        _stripes = new Stripe[StripeMask + 1];
        for (var i = 0; i < _stripes.Length; i++) _stripes[i] = new Stripe();
    }

    public string GrainType { get; }

    public void ActivationCreated() => Interlocked.Increment(ref _activations);

    public void ActivationDestroyed() => Interlocked.Decrement(ref _activations);

    /// <summary>Records a finished call that started at <paramref name="startTimestamp"/> (a <see cref="Stopwatch"/> timestamp).</summary>
    public void RecordCall(long startTimestamp, bool failed)
    {
        var elapsedNs = (long)((Stopwatch.GetTimestamp() - startTimestamp) * NanosecondsPerTick);
        var stripe = _stripes[Environment.CurrentManagedThreadId & StripeMask];
        Interlocked.Increment(ref stripe.Calls);
        if (failed) Interlocked.Increment(ref stripe.Failures);
        Interlocked.Increment(ref stripe.Buckets[LatencyHistogram.BucketOf(elapsedNs)]);
    }

    public GrainTypeStatistics Snapshot()
    {
        long calls = 0, failures = 0;
        var buckets = new long[LatencyHistogram.BucketCount];
        foreach (var stripe in _stripes)
        {
            calls += Volatile.Read(ref stripe.Calls);
            failures += Volatile.Read(ref stripe.Failures);
            for (var i = 0; i < buckets.Length; i++) buckets[i] += Volatile.Read(ref stripe.Buckets[i]);
        }
        return new GrainTypeStatistics(GrainType, Volatile.Read(ref _activations), calls, failures, new LatencyHistogram(buckets));
    }

    private sealed class Stripe
    {
        public long Calls;
        public long Failures;
        public readonly long[] Buckets = new long[LatencyHistogram.BucketCount];
#pragma warning disable CS0169 // padding keeps neighbouring stripes off this cache line
        private long _pad0, _pad1, _pad2, _pad3, _pad4, _pad5;
#pragma warning restore CS0169
    }
}
