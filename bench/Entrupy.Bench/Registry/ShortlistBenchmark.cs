using System.Diagnostics;
using System.Globalization;
using Entrupy.Fingerprinting;
using Entrupy.Native.Faiss;

namespace Entrupy.Bench.Registry;

/// <summary>
/// <c>bench/run shortlist</c>: what limits 1:N trace recall. A trace re-scores only the items nearest to the probe by
/// the global (VLAD) vector, widening up to <c>TraceMaxCandidates</c> (100); an item ranked beyond that is never found.
/// On the registry bench's captures this measures, for each probe, the rank of its own item among N by
/// (a) the global vector the index uses and (b) a local-descriptor vote (every enrolled upright descriptor in one
/// flat FAISS inner-product index; each probe descriptor votes for the item of its nearest neighbour, weighted by its
/// margin over the nearest descriptor of any other item): the candidate next shortlist, side by side.
/// </summary>
public sealed class ShortlistBenchmark : IBenchmark
{
    public string Name => "shortlist";

    public string Description =>
        "rank of the true item among N by the upright global VLAD vector, by the best of each item's views (what the index " +
        "holds) and by local-descriptor voting [--items 1200 --probes 200 --seed 11 --max-side 512 --dataset DIR --no-votes]";

    public Task<Dictionary<string, object?>> RunAsync(string[] args, BenchContext context) => RunAsync(Options.Parse(args), context);

    private static async Task<Dictionary<string, object?>> RunAsync(Options o, BenchContext context)
    {
        var set = await CaptureSet.LoadOrCreateAsync(context, o.Items, o.Seed, o.MaxSide, o.Dataset);
        var model = FingerprintModel.LoadDefault();
        using var engine = new FingerprintEngine(model);
        context.Progress($"extracting {set.Enrolments.Length} enrolments and {Math.Min(o.Probes, set.Probes.Length)} probes");
        // Through their bytes, as the registry holds them (8-bit descriptor codes).
        Fingerprint[] Extract(IEnumerable<byte[]> images, FingerprintPurpose purpose) =>
            [.. engine.ExtractBatch([.. images.Select(i => (ReadOnlyMemory<byte>)i)], purpose)
                .Select(r => Fingerprint.FromBytes((r.Fingerprint ?? throw new InvalidDataException("a bench capture was rejected: " + r.Message)).ToBytes(), model))];
        var enrolled = Extract(set.Enrolments, FingerprintPurpose.Enrolment);
        var probes = set.Probes.Take(o.Probes).ToArray();
        var probePrints = Extract(probes.Select(p => p.Image), FingerprintPurpose.Probe);
        var itemIndex = set.ItemIds.Select((id, i) => (id, i)).ToDictionary(p => p.id, p => p.i, StringComparer.Ordinal);
        var own = probes.Select(p => itemIndex[p.ItemId]).ToArray();

        context.Progress("ranking by global vector");
        var clock = Stopwatch.StartNew();
        var globalRanks = new int[probes.Length];
        for (var q = 0; q < probes.Length; q++)
        {
            var probe = probePrints[q];
            var ownSimilarity = Dot(probe.GlobalVector, enrolled[own[q]].GlobalVector);
            globalRanks[q] = enrolled.Count(e => Dot(probe.GlobalVector, e.GlobalVector) > ownSimilarity);
        }
        var globalMs = clock.Elapsed.TotalMilliseconds / probes.Length;

        // What the index holds since session 6: every view of the enrolment (upright + steered sets), best one counts.
        context.Progress("ranking by the best of each item's views (upright and steered sets' global vectors)");
        var views = enrolled.Select(e => e.SetGlobalVectors(model)).ToArray();
        clock.Restart();
        var viewRanks = new int[probes.Length];
        for (var q = 0; q < probes.Length; q++)
        {
            var probe = probePrints[q];
            float Best(int item) => views[item].Max(v => Dot(probe.GlobalVector, v));
            var ownSimilarity = Best(own[q]);
            viewRanks[q] = Enumerable.Range(0, enrolled.Length).Count(i => Best(i) > ownSimilarity);
        }
        var viewMs = clock.Elapsed.TotalMilliseconds / probes.Length;

        var voteRanks = Array.Empty<int>();
        var voteMs = 0.0;
        if (o.Votes) (voteRanks, voteMs) = RankByVotes(context, enrolled, probePrints, own);

        var figures = new Dictionary<string, object?>
        {
            ["items"] = enrolled.Length,
            ["probes"] = probes.Length,
            ["captures"] = $"make_dataset.py --items {o.Items} --probes-per-item 1 --seed {o.Seed} --max-size {o.MaxSide}",
        };
        AddRanks(figures, "global", globalRanks, globalMs);
        AddRanks(figures, "views", viewRanks, viewMs);
        figures["ratio_views_over_global_rank1"] = Math.Round(viewRanks.Count(r => r == 0) / (double)Math.Max(1, globalRanks.Count(r => r == 0)), 3);
        var voteSummary = "";
        if (o.Votes)
        {
            AddRanks(figures, "votes", voteRanks, voteMs);
            figures["ratio_votes_over_global_rank1"] = Math.Round(voteRanks.Count(r => r == 0) / (double)Math.Max(1, globalRanks.Count(r => r == 0)), 3);
            voteSummary = $"; votes: first {voteRanks.Count(r => r == 0)}, within 100 {voteRanks.Count(r => r < 100)}";
        }
        context.Progress($"own item first / within 100 of {probes.Length}: global {globalRanks.Count(r => r == 0)} / {globalRanks.Count(r => r < 100)}, " +
                         $"views {viewRanks.Count(r => r == 0)} / {viewRanks.Count(r => r < 100)}{voteSummary}");
        return figures;
    }

    private static (int[] Ranks, double MsPerQuery) RankByVotes(BenchContext context, Fingerprint[] enrolled, Fingerprint[] probePrints, int[] own)
    {
        context.Progress("ranking by local-descriptor votes (flat index, brute force)");
        using var descriptors = FaissIndex.Create(Fingerprint.DescriptorLength, "Flat", FaissMetric.InnerProduct);
        for (var i = 0; i < enrolled.Length; i++)
        {
            var upright = enrolled[i].Descriptors(enrolled[i].UprightSet);
            descriptors.Add(upright, Enumerable.Repeat((long)i, enrolled[i].KeypointCount).ToArray());
        }
        var clock = Stopwatch.StartNew();
        var voteRanks = new int[probePrints.Length];
        for (var q = 0; q < probePrints.Length; q++)
        {
            const int k = 4;
            var hits = descriptors.Search(probePrints[q].Descriptors(0), k);
            var votes = new double[enrolled.Length];
            for (var d = 0; d < probePrints[q].KeypointCount; d++)
            {
                var ids = hits.IdsOf(d);
                var similarities = hits.DistancesOf(d);
                var other = 0f;
                for (var j = 1; j < k; j++)
                    if (ids[j] != ids[0]) { other = similarities[j]; break; }
                if (ids[0] >= 0) votes[ids[0]] += similarities[0] - other;
            }
            voteRanks[q] = votes.Count(v => v > votes[own[q]]);
        }
        return (voteRanks, clock.Elapsed.TotalMilliseconds / probePrints.Length);
    }

    private static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => System.Numerics.Tensors.TensorPrimitives.Dot(a, b);

    private static void AddRanks(Dictionary<string, object?> figures, string prefix, int[] ranks, double msPerQuery)
    {
        double Share(Func<int, bool> within) => Math.Round(ranks.Count(within) / (double)ranks.Length, 4);
        figures[$"{prefix}_rank1"] = Share(r => r == 0);
        figures[$"{prefix}_within_5"] = Share(r => r < 5);
        figures[$"{prefix}_within_100"] = Share(r => r < 100);
        figures[$"{prefix}_mean_rank"] = Math.Round(ranks.Average(), 2);
        figures[$"{prefix}_worst_rank"] = ranks.Max();
        figures[$"{prefix}_ms_per_query"] = Math.Round(msPerQuery, 2);
    }

    private sealed record Options(int Items, int Probes, int Seed, int MaxSide, string? Dataset, bool Votes)
    {
        public static Options Parse(string[] args)
        {
            var o = new Options(1200, 200, 11, 512, null, Votes: true);
            for (var a = new BenchArguments(args); a.MoveNext();)
            {
                o = a.Option switch
                {
                    "--items" => o with { Items = a.Int() },
                    "--probes" => o with { Probes = a.Int() },
                    "--seed" => o with { Seed = a.Int() },
                    "--max-side" => o with { MaxSide = a.Int() },
                    "--dataset" => o with { Dataset = a.Text() },
                    "--no-votes" => o with { Votes = false },
                    _ => throw a.Unknown(),
                };
            }
            if (o.Items < 10 || o.Probes < 1) throw new BenchOptionException("--items must be at least 10 and --probes at least 1");
            return o;
        }
    }
}
