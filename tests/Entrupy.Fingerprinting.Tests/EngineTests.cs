using System.Diagnostics;
using System.Text;
using Xunit.Abstractions;

namespace Entrupy.Fingerprinting.Tests;

[Collection(EngineCollection.Name)]
public sealed class EngineTests(EngineFixture fx, ITestOutputHelper output)
{
    private static readonly string[] Gallery = ["g0.jpg", "g1.jpg", "g2.png", "g3.jpg", "g4.png", "g5.png"];
    private static readonly string[] Probes = ["p0.jpg", "p1.png", "p2.jpg", "p3.png", "p4.jpg", "p5.png"];

    [Fact]
    public void Model_exposes_its_constants()
    {
        Assert.Equal("entrupy-surface-fp", fx.Model.Id);
        Assert.False(string.IsNullOrEmpty(fx.Model.Version));
        Assert.Equal(9.0, fx.Model.OperatingThreshold);
        Assert.InRange(fx.Model.FarThreshold, 1, fx.Model.OperatingThreshold);
        Assert.Equal(2048, fx.Model.GlobalVectorLength);
        // The build copies the model next to the binaries and that location wins.
        Assert.StartsWith(Path.GetFullPath(AppContext.BaseDirectory), fx.Model.Directory);
    }

    [Fact]
    public void Probe_has_only_upright_descriptors_and_enrolment_has_the_steered_sets()
    {
        var probe = fx.Engine.Extract(fx.ImageBytes("p1.png"), FingerprintPurpose.Probe);
        var enrolled = fx.Engine.Extract(fx.ImageBytes("p1.png"), FingerprintPurpose.Enrolment);
        Assert.Equal([0f], probe.SteeringAngles);
        Assert.Equal([-14f, 0f, 14f], enrolled.SteeringAngles);
        Assert.True(probe.Descriptors(0).SequenceEqual(enrolled.Descriptors(enrolled.UprightSet)));
        Assert.False(enrolled.Descriptors(0).SequenceEqual(enrolled.Descriptors(1)));
        var norm = System.Numerics.Tensors.TensorPrimitives.Norm(probe.Descriptors(0)[..128]);
        Assert.Equal(1f, norm, 1e-4f);
        Assert.Equal(1f, System.Numerics.Tensors.TensorPrimitives.Norm(probe.GlobalVector), 1e-4f);
        Assert.True(fx.Matcher.Compare(probe, enrolled).Score > 100);
    }

    [Fact]
    public void Serialization_round_trips_and_checks_format_and_model()
    {
        var print = fx.Enrolled("g2.png");
        var bytes = print.ToBytes();
        var copy = Fingerprint.FromBytes(bytes, fx.Model);
        Assert.Equal(bytes, copy.ToBytes());
        Assert.Equal(print.KeypointCount, copy.KeypointCount);
        Assert.True(print.GlobalVector.SequenceEqual(copy.GlobalVector));
        Assert.Equal(print.Quality.Focus, copy.Quality.Focus);
        var probe = fx.Engine.Extract(fx.ImageBytes("p2.jpg"), FingerprintPurpose.Probe);
        // 8-bit descriptor codes: the stored record scores within rounding of the fresh one, never across the threshold.
        var fresh = fx.Matcher.Compare(probe, print).Score;
        var stored = fx.Matcher.Compare(probe, copy).Score;
        Assert.InRange(stored, fresh * 0.9, fresh * 1.1 + 1);
        Assert.True(stored >= fx.Model.OperatingThreshold);
        for (var s = 0; s < print.SetCount; s++)
        {
            var original = print.Descriptors(s);
            var restored = copy.Descriptors(s);
            for (var i = 0; i < original.Length; i++) Assert.Equal(original[i], restored[i], 0.5f / 255 + 1e-6f);
        }
        Assert.InRange(bytes.Length, 90_000, 110_000); // 3 sets × 256 × 128 codes + the 2,048-float global vector
        var probeCopy = Fingerprint.FromBytes(probe.ToBytes(), fx.Model);
        Assert.Equal(FingerprintPurpose.Probe, probeCopy.Purpose);
        output.WriteLine($"record sizes: enrolment {bytes.Length} B, probe {probe.ToBytes().Length} B");

        var wrongVersion = (byte[])bytes.Clone();
        wrongVersion[0] = 99;
        Assert.Contains("format version", Assert.Throws<InvalidDataException>(() => Fingerprint.FromBytes(wrongVersion, fx.Model)).Message);
        var wrongModel = (byte[])bytes.Clone();
        var idOffset = 2;
        wrongModel[idOffset] ^= 0x20; // change the case of the first letter of the model id
        Assert.Contains("Re-enrol", Assert.Throws<InvalidDataException>(() => Fingerprint.FromBytes(wrongModel, fx.Model)).Message);
        Assert.Throws<InvalidDataException>(() => Fingerprint.FromBytes(bytes.AsSpan(0, bytes.Length - 3), fx.Model));
        Assert.Throws<InvalidDataException>(() => Fingerprint.FromBytes([.. bytes, 0], fx.Model));
    }

    [Fact]
    public void An_enrolment_read_back_keeps_its_8_bit_codes_not_floats()
    {
        var print = fx.Enrolled("g2.png");
        var bytes = print.ToBytes();
        var padded = Fingerprint.PadRows(print.KeypointCount);
        var codeBytes = (long)print.SetCount * padded * Fingerprint.DescriptorLength; // one byte per component
        Fingerprint.FromBytes(bytes, fx.Model).EnrolledCodes(); // warm-up: nothing static is counted below

        var before = GC.GetAllocatedBytesForCurrentThread();
        var copy = Fingerprint.FromBytes(bytes, fx.Model);
        var enrolledSide = copy.EnrolledCodes();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // The record's codes go straight into the layout compares use; floats (4× the bytes) only when asked for.
        Assert.InRange(allocated, codeBytes, codeBytes + 32 * 1024);
        Assert.Same(enrolledSide, copy.EnrolledCodes());
        // The fresh fingerprint encodes its floats to the very codes the record holds, so both score alike.
        Assert.Equal(print.EnrolledCodes(), enrolledSide);
        var row = new byte[Fingerprint.DescriptorLength];
        for (var s = 0; s < copy.SetCount; s++)
        {
            var values = copy.Descriptors(s); // row-major floats, decoded from the codes on this first use
            for (var j = 0; j < copy.KeypointCount; j++)
            {
                DescriptorCodes.ReadEnrolledRow(enrolledSide[s], padded, j, row);
                for (var k = 0; k < Fingerprint.DescriptorLength; k++)
                    Assert.Equal(row[k] / 255f, values[j * Fingerprint.DescriptorLength + k]);
            }
        }
        Assert.Equal(bytes, copy.ToBytes());
    }

    [Fact]
    public void Records_read_into_reused_memory_keep_their_padding_zero()
    {
        // Probe arrays are allocated uninitialised and only the padding is cleared: dirty the heap with NaNs first, so
        // a padding value left unwritten would show (and make every kernel sum NaN).
        var enrolment = FirstKeypoints(fx.Enrolled("g2.png"), 100).ToBytes();
        var probe = FirstKeypoints(fx.Engine.Extract(fx.ImageBytes("p2.jpg"), FingerprintPurpose.Probe), 70).ToBytes();
        for (var round = 0; round < 20; round++)
        {
            for (var i = 0; i < 8; i++) GC.KeepAlive(Enumerable.Repeat(float.NaN, 40_000).ToArray());
            var enrolled = Fingerprint.FromBytes(enrolment, fx.Model);
            var padded = Fingerprint.PadRows(enrolled.KeypointCount);
            foreach (var set in enrolled.EnrolledCodes())
                for (var j = enrolled.KeypointCount; j < padded; j++)
                    for (var g = 0; g < DescriptorCodes.Groups; g++)
                        Assert.All(set.AsSpan(DescriptorCodes.EnrolledOffset(padded, j, g), DescriptorCodes.GroupWidth).ToArray(), v => Assert.Equal(0, v));
            var probed = Fingerprint.FromBytes(probe, fx.Model);
            Assert.All(probed.PaddedSet(0).AsSpan(probed.KeypointCount * Fingerprint.DescriptorLength).ToArray(), v => Assert.Equal(0f, v));
            var probeRows = probed.ProbeCodes();
            Assert.All(probeRows.Codes.AsSpan(probed.KeypointCount * Fingerprint.DescriptorLength).ToArray(), v => Assert.Equal(0, v));
        }
    }

    /// <summary>The same fingerprint cut to its first <paramref name="count"/> keypoints (so its rows need padding).</summary>
    private static Fingerprint FirstKeypoints(Fingerprint print, int count)
    {
        var padded = Fingerprint.PadRows(count);
        var sets = new float[print.SetCount][];
        for (var s = 0; s < sets.Length; s++)
        {
            sets[s] = new float[padded * Fingerprint.DescriptorLength];
            print.Descriptors(s)[..(count * Fingerprint.DescriptorLength)].CopyTo(sets[s]);
        }
        return new Fingerprint(print.ModelId, print.ModelVersion, print.Purpose, print.MapX[..count].ToArray(), print.MapY[..count].ToArray(),
            [.. print.SteeringAngles], sets, print.GlobalVectorArray(), print.Quality);
    }

    [Fact]
    public void A_summary_reads_what_FromBytes_reads_except_the_descriptors_and_refuses_the_same_records()
    {
        var print = fx.Enrolled("g2.png");
        var probe = fx.Engine.Extract(fx.ImageBytes("p2.jpg"), FingerprintPurpose.Probe);
        foreach (var bytes in new[] { print.ToBytes(), FormatOneRecord(print), probe.ToBytes() })
        {
            var full = Fingerprint.FromBytes(bytes, fx.Model);
            Fingerprint.ReadSummary(bytes, fx.Model); // warm-up: nothing static is counted below
            var before = GC.GetAllocatedBytesForCurrentThread();
            var summary = Fingerprint.ReadSummary(bytes, fx.Model);
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal(full.Purpose, summary.Purpose);
            Assert.Equal(full.KeypointCount, summary.KeypointCount);
            Assert.Equal(full.SetCount, summary.SetCount);
            Assert.Equal(full.Quality, summary.Quality);
            Assert.True(full.GlobalVector.SequenceEqual(summary.GlobalVector));
            // Every set's global vector, upright first, exactly as the fully read record computes them.
            var views = full.SetGlobalVectors(fx.Model);
            Assert.Equal(full.SetCount, views.Length);
            Assert.Equal(views.Length, summary.SetGlobalVectors.Length);
            for (var v = 0; v < views.Length; v++) Assert.True(views[v].SequenceEqual(summary.SetGlobalVectors[v]), $"view {v}");
            Assert.True(summary.SetGlobalVectors[0].SequenceEqual(summary.GlobalVector));
            Assert.True(Assert.Single(Fingerprint.ReadSummary(bytes, fx.Model, steeredViews: false).SetGlobalVectors).SequenceEqual(summary.GlobalVector));
            if (views.Length > 1) Assert.True(System.Numerics.Tensors.TensorPrimitives.Dot(views[0], views[1]) < 0.999f, "a steered view equals the upright one");
            Assert.All(views, v => Assert.Equal(1f, System.Numerics.Tensors.TensorPrimitives.Norm(v), 1e-4f));
            // The global vectors (8 KB each) and the keypoint maps, not the descriptors (≥ 128 KB even for a probe).
            Assert.InRange(allocated, 1, (2 + views.Length) * 8 * 1024);
        }

        var record = print.ToBytes();
        var wrongVersion = (byte[])record.Clone();
        wrongVersion[0] = 99;
        Assert.Throws<InvalidDataException>(() => Fingerprint.ReadSummary(wrongVersion, fx.Model));
        var wrongModel = (byte[])record.Clone();
        wrongModel[2] ^= 0x20;
        Assert.Contains("Re-enrol", Assert.Throws<InvalidDataException>(() => Fingerprint.ReadSummary(wrongModel, fx.Model)).Message);
        Assert.Throws<InvalidDataException>(() => Fingerprint.ReadSummary(record.AsSpan(0, record.Length - 3), fx.Model));
        Assert.Throws<InvalidDataException>(() => Fingerprint.ReadSummary([.. record, 0], fx.Model));
        // Cut inside the descriptors: they are skipped, not unchecked.
        Assert.Throws<InvalidDataException>(() => Fingerprint.ReadSummary(record.AsSpan(0, record.Length / 2), fx.Model));
    }

    [Fact]
    public void Format_1_records_with_float32_descriptors_are_still_read_exactly()
    {
        var print = fx.Enrolled("g2.png");
        var v1 = FormatOneRecord(print);
        var copy = Fingerprint.FromBytes(v1, fx.Model);
        for (var s = 0; s < print.SetCount; s++) Assert.True(print.Descriptors(s).SequenceEqual(copy.Descriptors(s)));
        Assert.True(print.GlobalVector.SequenceEqual(copy.GlobalVector));
        var probe = fx.Engine.Extract(fx.ImageBytes("p2.jpg"), FingerprintPurpose.Probe);
        Assert.Equal(fx.Matcher.Compare(probe, print), fx.Matcher.Compare(probe, copy));
        Assert.Equal(Fingerprint.FormatVersion, copy.ToBytes()[0]); // rewritten in the current format
    }

    /// <summary>The format-1 layout, written independently of <see cref="Fingerprint.ToBytes"/> from public figures.</summary>
    private static byte[] FormatOneRecord(Fingerprint print)
    {
        using var stream = new MemoryStream();
        using var w = new BinaryWriter(stream); // little-endian
        var id = System.Text.Encoding.UTF8.GetBytes(print.ModelId);
        var version = System.Text.Encoding.UTF8.GetBytes(print.ModelVersion);
        w.Write((byte)1);
        w.Write((byte)id.Length); w.Write(id);
        w.Write((byte)version.Length); w.Write(version);
        w.Write((byte)print.Purpose);
        w.Write((ushort)print.KeypointCount);
        w.Write((byte)print.SteeringAngles.Count);
        foreach (var a in print.SteeringAngles) w.Write(a);
        w.Write(print.Quality.Width); w.Write(print.Quality.Height);
        w.Write(print.Quality.Focus); w.Write(print.Quality.Mean); w.Write(print.Quality.Contrast); w.Write(print.Quality.Clipped);
        for (var i = 0; i < print.KeypointCount; i++) w.Write((byte)((print.KeypointX(i) - 0.5f) / 2));
        for (var i = 0; i < print.KeypointCount; i++) w.Write((byte)((print.KeypointY(i) - 0.5f) / 2));
        for (var s = 0; s < print.SteeringAngles.Count; s++)
            foreach (var v in print.Descriptors(s)) w.Write(v);
        w.Write((ushort)print.GlobalVector.Length);
        foreach (var v in print.GlobalVector) w.Write(v);
        w.Flush();
        return stream.ToArray();
    }

    [Fact]
    public void Fusion_takes_the_best_capture()
    {
        var probe = fx.Engine.Extract(fx.ImageBytes("p3.png"), FingerprintPurpose.Probe);
        var captures = new[] { fx.Enrolled("g0.jpg"), fx.Enrolled("g3.jpg"), fx.Enrolled("g5.png") };
        var single = captures.Select(c => fx.Matcher.Compare(probe, c).Score).ToArray();
        var fused = fx.Matcher.Compare(probe, captures);
        Assert.Equal(single.Max(), fused.Score);
        Assert.Equal(1, fused.BestCapture);
        Assert.True(fused.IsMatch);
        Assert.False(fx.Matcher.Compare(probe, [captures[0], captures[2]]).IsMatch);
        Assert.Throws<ArgumentException>(() => fx.Matcher.Compare(probe, Array.Empty<Fingerprint>()));
    }

    [Fact]
    public void Batch_extraction_equals_single_extraction_and_reports_rejections_in_place()
    {
        var inputs = new List<ReadOnlyMemory<byte>> { fx.ImageBytes("p0.jpg"), "nope"u8.ToArray(), fx.ImageBytes("p5.png") };
        var results = fx.Engine.ExtractBatch(inputs, FingerprintPurpose.Enrolment);
        Assert.Equal(3, results.Count);
        Assert.Equal(CaptureRejection.NotAnImage, results[1].Rejection);
        foreach (var (index, file) in new[] { (0, "p0.jpg"), (2, "p5.png") })
        {
            var single = fx.Engine.Extract(fx.ImageBytes(file), FingerprintPurpose.Enrolment);
            Assert.True(results[index].Succeeded);
            Assert.Equal(single.ToBytes(), results[index].Fingerprint!.ToBytes());
        }
    }

    [Fact]
    public void Batch_longer_than_one_model_run_keeps_input_order()
    {
        var files = Enumerable.Range(0, FingerprintEngine.MaxBatchSize + 3).Select(i => (i % 2 == 0 ? Probes : Gallery)[i % 6]).ToArray();
        var results = fx.Engine.ExtractBatch(files.Select(f => (ReadOnlyMemory<byte>)fx.ImageBytes(f)).ToList(), FingerprintPurpose.Probe);
        Assert.Equal(files.Length, results.Count);
        var reference = files.Distinct().ToDictionary(f => f, f => fx.Engine.Extract(fx.ImageBytes(f), FingerprintPurpose.Probe).ToBytes());
        for (var i = 0; i < files.Length; i++) Assert.Equal(reference[files[i]], results[i].Fingerprint!.ToBytes());
    }

    [Fact]
    public void Extract_is_thread_safe()
    {
        var reference = Probes.ToDictionary(f => f, f => fx.Engine.Extract(fx.ImageBytes(f), FingerprintPurpose.Probe).ToBytes());
        var failures = 0;
        Parallel.For(0, 4 * Probes.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            var file = Probes[i % Probes.Length];
            var bytes = fx.Engine.Extract(fx.ImageBytes(file), FingerprintPurpose.Probe).ToBytes();
            if (!bytes.AsSpan().SequenceEqual(reference[file])) Interlocked.Increment(ref failures);
        });
        Assert.Equal(0, failures);
    }

    [Fact]
    public void Model_loading_reports_missing_and_corrupt_files()
    {
        var dir = Directory.CreateTempSubdirectory("fpport-model-").FullName;
        try
        {
            Assert.Throws<DirectoryNotFoundException>(() => FingerprintModel.Load(Path.Combine(dir, "absent")));
            Assert.Throws<FileNotFoundException>(() => FingerprintModel.Load(dir));
            foreach (var file in Directory.GetFiles(fx.Model.Directory)) File.Copy(file, Path.Combine(dir, Path.GetFileName(file)));
            Assert.Equal(fx.Model.Id, FingerprintModel.Load(dir).Id);

            File.WriteAllBytes(Path.Combine(dir, "fingerprint.codebook.f32"), new byte[100]);
            Assert.Contains("codebook", Assert.Throws<InvalidDataException>(() => FingerprintModel.Load(dir)).Message);
            File.Delete(Path.Combine(dir, "fingerprint.onnx"));
            Assert.Throws<FileNotFoundException>(() => FingerprintModel.Load(dir));
            File.WriteAllText(Path.Combine(dir, "fingerprint.json"), "{ \"model_id\": ");
            Assert.Throws<InvalidDataException>(() => FingerprintModel.Load(dir));
            File.WriteAllText(Path.Combine(dir, "fingerprint.json"), "{ \"model_id\": \"x\" }");
            Assert.Throws<InvalidDataException>(() => FingerprintModel.Load(dir));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Timing_of_compare_and_batched_extraction()
    {
        var probes = Probes.Select(f => fx.Engine.Extract(fx.ImageBytes(f), FingerprintPurpose.Probe)).ToArray();
        var gallery = Gallery.Select(fx.Enrolled).ToArray();
        // Warm up past tiered JIT (tier-0 code is several times slower) and build the transposed caches.
        for (var round = 0; round < 4; round++)
            foreach (var p in probes)
                foreach (var g in gallery) fx.Matcher.Compare(p, g);
        // The machine is shared: report the mean and the best of several short rounds (the least disturbed).
        var sw = new Stopwatch();
        var compares = 0;
        long sink = 0;
        var best = double.MaxValue;
        var total = TimeSpan.Zero;
        for (var round = 0; round < 20; round++)
        {
            sw.Restart();
            foreach (var p in probes)
                foreach (var g in gallery) sink += fx.Matcher.Compare(p, g).Score;
            sw.Stop();
            compares += probes.Length * gallery.Length;
            total += sw.Elapsed;
            best = Math.Min(best, sw.Elapsed.TotalMilliseconds / (probes.Length * gallery.Length));
        }
        var msPerCompare = total.TotalMilliseconds / compares;
        // CPU time of this thread only: not inflated by other processes preempting us on the shared machine.
        var cpuStart = ThreadCpuMilliseconds();
        foreach (var p in probes)
            foreach (var g in gallery) sink += fx.Matcher.Compare(p, g).Score;
        var cpuMsPerCompare = (ThreadCpuMilliseconds() - cpuStart) / (probes.Length * gallery.Length);

        var images = Probes.Concat(Gallery).Select(f => (ReadOnlyMemory<byte>)fx.ImageBytes(f)).ToList();
        for (var round = 0; round < 3; round++) fx.Engine.ExtractBatch(images, FingerprintPurpose.Enrolment);
        sw.Restart();
        var extracted = 0;
        var bestBatch = double.MaxValue;
        while (sw.ElapsedMilliseconds < 1500)
        {
            var start = sw.Elapsed;
            fx.Engine.ExtractBatch(images, FingerprintPurpose.Enrolment);
            extracted += images.Count;
            bestBatch = Math.Min(bestBatch, (sw.Elapsed - start).TotalSeconds);
        }
        var perSecond = extracted / sw.Elapsed.TotalSeconds;
        var message = $"compare: mean {msPerCompare:0.000} ms, best round {best:0.000} ms, thread CPU {cpuMsPerCompare:0.000} ms (3 steered sets, K<=256, 1 thread, {compares} compares, SIMD {(System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? "512" : "256")}); " +
                      $"extraction: {perSecond:0.0} captures/s, best batch {images.Count / bestBatch:0.0} captures/s (batch {images.Count}, enrolment, 1 ORT intra-op thread, 256-448 px PNG/JPEG)";
        output.WriteLine(message);
        Console.WriteLine(message);
        Assert.True(sink > 0);
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out TimeSpec time);

    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    private static double ThreadCpuMilliseconds()
    {
        const int ClockThreadCpuTimeId = 3;
        if (!OperatingSystem.IsLinux() || ClockGetTime(ClockThreadCpuTimeId, out var t) != 0) return double.NaN;
        return t.Seconds * 1e3 + t.Nanoseconds / 1e6;
    }
}
