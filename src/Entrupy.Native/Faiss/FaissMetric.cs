namespace Entrupy.Native.Faiss;

/// <summary>How an index compares vectors. Values match <c>faiss::MetricType</c>.</summary>
public enum FaissMetric
{
    /// <summary>Inner product: larger is closer; distances returned are the inner products.</summary>
    InnerProduct = 0,

    /// <summary>Euclidean: smaller is closer; distances returned are squared L2 distances.</summary>
    L2 = 1,
}
