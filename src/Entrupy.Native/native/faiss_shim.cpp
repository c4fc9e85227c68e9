// C ABI over FAISS 1.7.3 (Debian's static libfaiss): index_factory indexes with train / add_with_ids /
// remove_ids / search with per-call parameters / (de)serialization to bytes.
//
// Per-call parameters: FAISS 1.7.3 sizes the HNSW candidate queue from the index's own efSearch and
// only partly honours SearchParametersHNSW, and mutating hnsw.efSearch races with concurrent searches.
// So HNSW search runs here, on FAISS's own building blocks (graph, DistanceComputer, MinimaxHeap),
// reading the per-call efSearch; IVF gets SearchParametersIVF. Wrappers (IDMap, PreTransform) are
// unwrapped here so the parameters reach the inner index whatever the factory string was.
#include "shim_common.h"

#include <faiss/Index.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/impl/DistanceComputer.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/HNSW.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/impl/io.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>
#include <faiss/utils/Heap.h>
#include <faiss/utils/distances.h>
#include <immintrin.h>
#include <omp.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace {

using faiss::Index;
using idx_t = faiss::Index::idx_t;

// 0 = OpenMP's default (one thread per core). Applied per call because omp_set_num_threads only
// changes the calling thread's setting, and callers come from many managed threads.
std::atomic<int> configured_threads{0};

int batch_threads() {
  int t = configured_threads.load(std::memory_order_relaxed);
  return t > 0 ? t : omp_get_num_procs();
}

// One-query calls run on the caller's thread only: a parallel region for one query costs more than it saves.
void apply_thread_setting(idx_t n_queries) { omp_set_num_threads(n_queries <= 1 ? 1 : batch_threads()); }

bool supports_ids_natively(const Index* index) {
  if (dynamic_cast<const faiss::IndexIVF*>(index) || dynamic_cast<const faiss::IndexIDMap*>(index)) return true;
  if (auto pt = dynamic_cast<const faiss::IndexPreTransform*>(index)) return supports_ids_natively(pt->index);
  return false;
}

// Every index gets add_with_ids/remove_ids: those that lack them are wrapped in an IndexIDMap.
// A loaded index that already holds vectors keeps its positions as ids.
Index* with_id_support(std::unique_ptr<Index> index) {
  if (supports_ids_natively(index.get())) return index.release();
  const idx_t existing = index->ntotal;
  index->ntotal = 0;  // IndexIDMap requires an empty index on input
  auto map = std::make_unique<faiss::IndexIDMap>(index.get());
  index->ntotal = existing;
  map->id_map.resize(existing);
  for (idx_t i = 0; i < existing; i++) map->id_map[i] = i;
  map->ntotal = existing;
  map->own_fields = true;  // only now: until here the unique_ptr above still owns the inner index
  index.release();
  return map.release();
}

// Visited marks reused across calls (FAISS allocates and clears ntotal bytes per search call).
struct VisitedMarks {
  std::vector<uint8_t> marks;
  uint8_t generation = 0;

  void start(size_t n) {
    if (marks.size() < n) {
      marks.assign(n, 0);
      generation = 0;
    }
    if (++generation == 0) {
      std::memset(marks.data(), 0, marks.size());
      generation = 1;
    }
  }
  bool seen(idx_t i) const { return marks[i] == generation; }
  void mark(idx_t i) { marks[i] = generation; }
};

// Marks are pooled rather than thread_local: the pool grows with the peak number of concurrent
// searches, not with the number of threads that ever searched (a server's thread pool can be large).
class VisitedPool {
 public:
  std::unique_ptr<VisitedMarks> take() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (free_.empty()) return std::make_unique<VisitedMarks>();
    auto marks = std::move(free_.back());
    free_.pop_back();
    return marks;
  }
  void give(std::unique_ptr<VisitedMarks> marks) {
    std::lock_guard<std::mutex> lock(mutex_);
    free_.push_back(std::move(marks));
  }

 private:
  std::mutex mutex_;
  std::vector<std::unique_ptr<VisitedMarks>> free_;
};

VisitedPool visited_pool;

struct VisitedLease {
  std::unique_ptr<VisitedMarks> marks = visited_pool.take();
  ~VisitedLease() {
    try {
      visited_pool.give(std::move(marks));
    } catch (...) {
      // Out of memory growing the pool: let these marks be freed instead.
    }
  }
};

// HNSW minimises; FAISS negates similarity metrics so that smaller is always better.
struct NegatedDistance : faiss::DistanceComputer {
  std::unique_ptr<faiss::DistanceComputer> inner;
  explicit NegatedDistance(faiss::DistanceComputer* d) : inner(d) {}
  void set_query(const float* x) override { inner->set_query(x); }
  float operator()(idx_t i) override { return -(*inner)(i); }
  float symmetric_dis(idx_t i, idx_t j) override { return -inner->symmetric_dis(i, j); }
};

bool hnsw_search_supported(const faiss::IndexHNSW& index) {
  return index.storage && !dynamic_cast<const faiss::IndexHNSW2Level*>(&index) &&
         !index.reconstruct_from_neighbors && index.hnsw.upper_beam == 1 && index.hnsw.search_bounded_queue;
}

// Same algorithm as faiss::HNSW::search (1.7.3) with a bounded candidate queue, except that the
// queue size and the stopping rule use ef_search from the call, not from the shared index.
void hnsw_search_one(const faiss::IndexHNSW& index, faiss::DistanceComputer& dis, VisitedMarks& visited,
                     int ef_search, idx_t k, float* D, idx_t* I) {
  const faiss::HNSW& hnsw = index.hnsw;
  faiss::maxheap_heapify(k, D, I);
  if (hnsw.entry_point < 0) return;

  // Greedy descent through the upper levels.
  int nearest = hnsw.entry_point;
  float d_nearest = dis(nearest);
  for (int level = hnsw.max_level; level >= 1; level--) {
    for (;;) {
      int previous = nearest;
      size_t begin, end;
      hnsw.neighbor_range(nearest, level, &begin, &end);
      for (size_t j = begin; j < end; j++) {
        int v = hnsw.neighbors[j];
        if (v < 0) break;
        float d = dis(v);
        if (d < d_nearest) {
          nearest = v;
          d_nearest = d;
        }
      }
      if (nearest == previous) break;
    }
  }

  // Beam search on level 0.
  // The queue never holds more than ntotal nodes: cap it so a huge ef_search cannot allocate without bound.
  int ef = static_cast<int>(std::max<idx_t>(std::min<idx_t>(ef_search, index.ntotal), k));
  faiss::HNSW::MinimaxHeap candidates(ef);
  candidates.push(nearest, d_nearest);
  visited.start(static_cast<size_t>(index.ntotal));

  idx_t nres = 0;
  auto offer = [&](idx_t v, float d) {
    if (nres < k) {
      faiss::maxheap_push(++nres, D, I, d, v);
    } else if (d < D[0]) {
      faiss::maxheap_replace_top(nres, D, I, d, v);
    }
  };
  offer(nearest, d_nearest);
  visited.mark(nearest);

  const bool check_relative = hnsw.check_relative_distance;
  int steps = 0;
  while (candidates.size() > 0) {
    float d0 = 0;
    int v0 = candidates.pop_min(&d0);
    // Stop once ef already-processed candidates are closer than the one being expanded.
    if (check_relative && candidates.count_below(d0) >= ef_search) break;

    size_t begin, end;
    hnsw.neighbor_range(v0, 0, &begin, &end);
    for (size_t j = begin; j < end; j++) {
      int v1 = hnsw.neighbors[j];
      if (v1 < 0) break;
      if (visited.seen(v1)) continue;
      visited.mark(v1);
      float d = dis(v1);
      offer(v1, d);
      candidates.push(v1, d);
    }
    steps++;
    if (!check_relative && steps > ef_search) break;
  }
  faiss::maxheap_reorder(k, D, I);
}

void hnsw_search(const faiss::IndexHNSW& index, idx_t n, const float* x, idx_t k, int ef_search, float* D,
                 idx_t* I) {
  const int ef = ef_search > 0 ? ef_search : index.hnsw.efSearch;
  const bool similarity = index.metric_type == faiss::METRIC_INNER_PRODUCT;
  if (n <= 1) {
    VisitedLease visited;
    std::unique_ptr<faiss::DistanceComputer> dis(index.storage->get_distance_computer());
    if (similarity) dis.reset(new NegatedDistance(dis.release()));
    for (idx_t i = 0; i < n; i++) {
      dis->set_query(x + i * index.d);
      hnsw_search_one(index, *dis, *visited.marks, ef, k, D + i * k, I + i * k);
    }
  } else {
    // Exceptions must not escape an OpenMP region, and every thread must reach the loop's barrier:
    // a thread that failed keeps the first error and skips its remaining queries.
    std::exception_ptr failure;
    auto record = [&failure] {
#pragma omp critical(entrupy_hnsw_failure)
      if (!failure) failure = std::current_exception();
    };
#pragma omp parallel
    {
      std::unique_ptr<VisitedLease> visited;
      std::unique_ptr<faiss::DistanceComputer> dis;
      bool ready = false;
      try {
        visited = std::make_unique<VisitedLease>();
        dis.reset(index.storage->get_distance_computer());
        if (similarity) dis.reset(new NegatedDistance(dis.release()));
        ready = true;
      } catch (...) {
        record();
      }
#pragma omp for schedule(guided)
      for (idx_t i = 0; i < n; i++) {
        if (!ready) continue;
        try {
          dis->set_query(x + i * index.d);
          hnsw_search_one(index, *dis, *visited->marks, ef, k, D + i * k, I + i * k);
        } catch (...) {
          record();
          ready = false;
        }
      }
    }
    if (failure) std::rethrow_exception(failure);
  }
  if (similarity)
    for (idx_t i = 0; i < n * k; i++) D[i] = -D[i];
}

// Searches with per-call parameters (0 = the index's stored default), unwrapping id maps and transforms.
// Inner-product search of a few queries over a flat index, or over one storing half floats (SQfp16). Debian's
// FAISS 1.7.3 is built for baseline x86-64 (SSE, no FMA, no F16C): its per-vector scan of a 2,048-d flat index ran
// at a third of the speed an AVX2+FMA dot product reaches on the same core (4.3 vs 1.4 ms over 3,600 vectors), and
// its SQfp16 scan converts one value at a time (8.6 ms). Same algorithm as faiss::exhaustive_inner_product_seq
// (min-heap of the k best, replaced when strictly better, then sorted), so answers equal FAISS's up to float
// summation order.
#define ENTRUPY_SCAN_TARGET __attribute__((target("avx2,fma,f16c")))

ENTRUPY_SCAN_TARGET inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
ENTRUPY_SCAN_TARGET inline __m256 load8(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
ENTRUPY_SCAN_TARGET inline float load1(const float* p) { return *p; }
ENTRUPY_SCAN_TARGET inline float load1(const uint16_t* p) { return _cvtsh_ss(*p); }

template <typename Stored>
ENTRUPY_SCAN_TARGET float dot_avx2(const float* a, const Stored* b, size_t d) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= d; i += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), load8(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), load8(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), load8(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), load8(b + i + 24), s3);
  }
  for (; i + 8 <= d; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), load8(b + i), s0);
  const __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_movehdup_ps(h));
  float sum = _mm_cvtss_f32(h);
  for (; i < d; i++) sum += a[i] * load1(b + i);
  return sum;
}

bool scan_kernels_available() {
  static const bool available =
      __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  return available;
}

// Top-k by inner product of each query with ntotal stored rows of d values.
template <typename Stored>
void scan_ip_search(const Stored* rows, idx_t ntotal, size_t d, idx_t n, const float* x, idx_t k, float* D, idx_t* I) {
  for (idx_t q = 0; q < n; q++) {
    float* simi = D + q * k;
    idx_t* idxi = I + q * k;
    faiss::minheap_heapify(k, simi, idxi);
    const float* query = x + q * d;
    for (idx_t j = 0; j < ntotal; j++) {
      const float ip = dot_avx2(query, rows + j * d, d);
      if (ip > simi[0]) faiss::minheap_replace_top(k, simi, idxi, ip, j);
    }
    faiss::minheap_reorder(k, simi, idxi);
  }
}

void search_with(const Index* index, idx_t n, const float* x, idx_t k, int ef_search, int nprobe, float* D,
                 idx_t* I) {
  if (auto map = dynamic_cast<const faiss::IndexIDMap*>(index)) {
    search_with(map->index, n, x, k, ef_search, nprobe, D, I);
    const idx_t mapped = static_cast<idx_t>(map->id_map.size());
    for (idx_t i = 0; i < n * k; i++)
      if (I[i] >= 0) I[i] = I[i] < mapped ? map->id_map[I[i]] : -1;
    return;
  }
  if (auto pt = dynamic_cast<const faiss::IndexPreTransform*>(index)) {
    const float* xt = pt->apply_chain(n, x);
    std::unique_ptr<const float[]> owned(xt == x ? nullptr : xt);
    search_with(pt->index, n, xt, k, ef_search, nprobe, D, I);
    return;
  }
  if (auto hnsw = dynamic_cast<const faiss::IndexHNSW*>(index)) {
    if (hnsw_search_supported(*hnsw)) {
      hnsw_search(*hnsw, n, x, k, ef_search, D, I);
      return;
    }
  }
  if (auto ivf = dynamic_cast<const faiss::IndexIVF*>(index)) {
    faiss::SearchParametersIVF params;
    params.nprobe = nprobe > 0 ? std::min(static_cast<size_t>(nprobe), ivf->nlist) : ivf->nprobe;
    params.max_codes = ivf->max_codes;
    ivf->search(n, x, k, D, I, &params);
    return;
  }
  // FAISS answers larger flat batches with BLAS, which is fast here already.
  if (auto flat = dynamic_cast<const faiss::IndexFlat*>(index);
      flat && flat->metric_type == faiss::METRIC_INNER_PRODUCT && n < faiss::distance_compute_blas_threshold &&
      scan_kernels_available()) {
    scan_ip_search(flat->get_xb(), flat->ntotal, static_cast<size_t>(flat->d), n, x, k, D, I);
    return;
  }
  if (auto sq = dynamic_cast<const faiss::IndexScalarQuantizer*>(index);
      sq && sq->sq.qtype == faiss::ScalarQuantizer::QT_fp16 && sq->metric_type == faiss::METRIC_INNER_PRODUCT &&
      n < faiss::distance_compute_blas_threshold && scan_kernels_available()) {
    const auto* halves = reinterpret_cast<const uint16_t*>(sq->codes.data());
    scan_ip_search(halves, sq->ntotal, static_cast<size_t>(sq->d), n, x, k, D, I);
    return;
  }
  index->search(n, x, k, D, I);
}

// Reads write_index output straight from the caller's memory (no copy into a VectorIOReader).
struct SpanReader : faiss::IOReader {
  const uint8_t* data;
  size_t size;
  size_t position = 0;
  SpanReader(const uint8_t* d, size_t s) : data(d), size(s) { name = "bytes"; }
  size_t operator()(void* ptr, size_t item_size, size_t items) override {
    if (item_size == 0 || items == 0) return 0;
    size_t available = (size - position) / item_size;
    size_t count = items < available ? items : available;
    std::memcpy(ptr, data + position, count * item_size);
    position += count * item_size;
    return count;
  }
};

Index* as_index(void* handle) {
  if (!handle) throw std::invalid_argument("null FAISS index handle");
  return static_cast<Index*>(handle);
}

}  // namespace

ENTRUPY_API int entrupy_faiss_version(int* major, int* minor, int* patch) {
  ENTRUPY_GUARD({
    *major = FAISS_VERSION_MAJOR;
    *minor = FAISS_VERSION_MINOR;
    *patch = FAISS_VERSION_PATCH;
  })
}

ENTRUPY_API int entrupy_faiss_set_num_threads(int threads) {
  ENTRUPY_GUARD({
    if (threads < 0) throw std::invalid_argument("thread count must be >= 0 (0 = one per core)");
    configured_threads.store(threads, std::memory_order_relaxed);
  })
}

ENTRUPY_API int entrupy_faiss_get_num_threads(int* threads) { ENTRUPY_GUARD({ *threads = batch_threads(); }) }

// metric: 0 = inner product, 1 = L2 (faiss::MetricType values).
ENTRUPY_API int entrupy_faiss_create(int dimension, const char* description, int metric, void** out) {
  ENTRUPY_GUARD({
    *out = nullptr;
    if (metric != faiss::METRIC_INNER_PRODUCT && metric != faiss::METRIC_L2)
      throw std::invalid_argument("metric must be 0 (inner product) or 1 (L2)");
    *out = with_id_support(
        std::unique_ptr<Index>(faiss::index_factory(dimension, description, static_cast<faiss::MetricType>(metric))));
  })
}

ENTRUPY_API int entrupy_faiss_free(void* handle) { ENTRUPY_GUARD({ delete static_cast<Index*>(handle); }) }

ENTRUPY_API int entrupy_faiss_info(void* handle, int* dimension, int64_t* ntotal, int* is_trained, int* metric) {
  ENTRUPY_GUARD({
    const Index* index = as_index(handle);
    *dimension = index->d;
    *ntotal = index->ntotal;
    *is_trained = index->is_trained ? 1 : 0;
    *metric = static_cast<int>(index->metric_type);
  })
}

ENTRUPY_API int entrupy_faiss_train(void* handle, int64_t n, const float* x) {
  ENTRUPY_GUARD({
    apply_thread_setting(n);
    as_index(handle)->train(n, x);
  })
}

ENTRUPY_API int entrupy_faiss_add_with_ids(void* handle, int64_t n, const float* x, const int64_t* ids) {
  ENTRUPY_GUARD({
    apply_thread_setting(n);
    as_index(handle)->add_with_ids(n, x, ids);
  })
}

ENTRUPY_API int entrupy_faiss_remove_ids(void* handle, int64_t n, const int64_t* ids, int64_t* removed) {
  ENTRUPY_GUARD({
    faiss::IDSelectorBatch selector(static_cast<size_t>(n), ids);
    *removed = static_cast<int64_t>(as_index(handle)->remove_ids(selector));
  })
}

// ef_search / nprobe <= 0 mean "the index's own setting". D and I hold n * k entries.
ENTRUPY_API int entrupy_faiss_search(void* handle, int64_t n, const float* x, int64_t k, int ef_search, int nprobe,
                                     float* D, int64_t* I) {
  ENTRUPY_GUARD({
    if (k <= 0) throw std::invalid_argument("k must be > 0");
    apply_thread_setting(n);
    search_with(as_index(handle), n, x, k, ef_search, nprobe, D, I);
  })
}

// FAISS's own Index::search with the index's stored parameters: a reference for tests of the path above.
ENTRUPY_API int entrupy_faiss_search_reference(void* handle, int64_t n, const float* x, int64_t k, float* D,
                                               int64_t* I) {
  ENTRUPY_GUARD({
    apply_thread_setting(n);
    as_index(handle)->search(n, x, k, D, I);
  })
}

// Serializes with faiss::write_index; *blob owns the bytes until entrupy_faiss_blob_free.
ENTRUPY_API int entrupy_faiss_serialize(void* handle, void** blob, const uint8_t** data, int64_t* size) {
  ENTRUPY_GUARD({
    *blob = nullptr;
    auto writer = std::make_unique<faiss::VectorIOWriter>();
    faiss::write_index(as_index(handle), writer.get());
    *data = writer->data.data();
    *size = static_cast<int64_t>(writer->data.size());
    *blob = writer.release();
  })
}

ENTRUPY_API void entrupy_faiss_blob_free(void* blob) { delete static_cast<faiss::VectorIOWriter*>(blob); }

ENTRUPY_API int entrupy_faiss_deserialize(const uint8_t* data, int64_t size, void** out) {
  ENTRUPY_GUARD({
    *out = nullptr;
    if (!data || size <= 0) throw std::invalid_argument("no bytes to read an index from");
    SpanReader reader(data, static_cast<size_t>(size));
    *out = with_id_support(std::unique_ptr<Index>(faiss::read_index(&reader)));
  })
}
