// Image decoding/encoding for the managed Entrupy.Native.Imaging API: JPEG (TurboJPEG), PNG (libspng, and
// libdeflate for the common 8-bit case),
// BMP (stb_image, header-checked first).
//
// Memory contract: decoding never allocates the output image. Managed code calls entrupy_image_read_info,
// checks the header's dimensions against its limits, allocates the pixel array itself and passes it to
// entrupy_image_decode, which re-reads the header and refuses to write unless the dimensions match the
// buffer exactly. Encoders return an opaque handle the caller copies from and then frees.
//
// Return codes of the entrupy_image_* functions: 0 success; a positive value is an
// ImageStatus value (mirrored by the managed ImageDecodeReason enum); -1 an unexpected native failure
// (ENTRUPY_GUARD). In every failure case entrupy_last_error() holds a message.
#include "shim_common.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include <jconfig.h>
#include <libdeflate.h>
#include <spng.h>
#include <turbojpeg.h>

#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_BMP
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#include <stb/stb_image.h>
#pragma GCC diagnostic pop

namespace {

// Mirrors Entrupy.Native.Imaging.ImageDecodeReason (keep the numbers in sync).
enum ImageStatus : int {
  kOk = 0,
  kEmpty = 1,
  kUnknownFormat = 2,
  kTooLarge = 3,
  kTruncated = 4,
  kCorrupt = 5,
  kUnsupported = 6,
  kInvalidArgument = 7,
};

// Mirrors Entrupy.Native.Imaging.ImageFormat.
enum ImageKind : int32_t { kJpeg = 1, kPng = 2, kBmp = 3 };

// Mirrors Entrupy.Native.Imaging.AlphaHandling.
enum AlphaMode : int32_t { kDiscardAlpha = 0, kCompositeOverBlack = 1, kCompositeOverWhite = 2 };

// Largest single ancillary chunk and total chunk cache spng may buffer: metadata is never worth more.
constexpr size_t kPngMaxChunkBytes = 16u << 20;
constexpr size_t kPngMaxChunkCacheBytes = 64u << 20;

int fail(int status, const std::string& message) {
  entrupy::set_last_error(message);
  return status;
}

}  // namespace

extern "C" {
// Header facts; layout mirrored by the managed NativeImageInfo struct.
struct entrupy_image_info {
  int32_t format;           // ImageKind
  int32_t width;
  int32_t height;
  int32_t channels;         // colour channels stored, alpha excluded: 1 gray, 3 colour, 4 CMYK
  int32_t has_alpha;        // alpha channel or PNG tRNS transparency present
  int32_t bits_per_sample;  // 1..16 (PNG), 8 (JPEG), BMP bits per pixel / channels
  int32_t interlaced;       // PNG Adam7 or progressive JPEG
  int32_t reserved;
};
}

namespace {

ImageKind sniff(const uint8_t* data, size_t len, bool* known) {
  static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  *known = true;
  if (len >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return kJpeg;
  if (len >= 8 && std::memcmp(data, png_sig, 8) == 0) return kPng;
  if (len >= 2 && data[0] == 'B' && data[1] == 'M') return kBmp;
  // A prefix of a signature is a truncated file, not an unknown one.
  if (len < 8 && std::memcmp(data, png_sig, len) == 0) return kPng;
  if (len < 3 && data[0] == 0xFF && (len < 2 || data[1] == 0xD8)) return kJpeg;
  *known = false;
  return kJpeg;
}

// ---------------------------------------------------------------- JPEG

// Walks the marker structure; true when the data ends before an EOI marker. Used to tell a cut-off
// file (Truncated) from damaged data (Corrupt) after TurboJPEG reports a problem.
bool jpeg_is_truncated(const uint8_t* d, size_t n) {
  size_t i = 2;  // after SOI
  while (true) {
    while (i < n && d[i] != 0xFF) ++i;  // tolerate junk between segments; libjpeg reports it anyway
    while (i < n && d[i] == 0xFF) ++i;  // fill bytes
    if (i >= n) return true;
    uint8_t marker = d[i++];
    if (marker == 0xD9) return false;                              // EOI
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;  // TEM, RSTn: no length
    if (i + 2 > n) return true;
    size_t seg = (static_cast<size_t>(d[i]) << 8) | d[i + 1];
    if (seg < 2) return false;  // malformed, not short
    if (i + seg > n) return true;
    i += seg;
    if (marker == 0xDA) {
      // Entropy-coded data: runs until a marker other than a stuffed 0xFF00 or a restart marker.
      while (true) {
        while (i < n && d[i] != 0xFF) ++i;
        if (i + 1 >= n) return true;
        uint8_t next = d[i + 1];
        if (next == 0x00 || (next >= 0xD0 && next <= 0xD7) || next == 0xFF) {
          i += (next == 0xFF) ? 1 : 2;
          continue;
        }
        break;
      }
    }
  }
}

struct TjHandle {
  tjhandle h;
  explicit TjHandle(tjhandle handle) : h(handle) {}
  ~TjHandle() {
    if (h) tjDestroy(h);
  }
  TjHandle(const TjHandle&) = delete;
  TjHandle& operator=(const TjHandle&) = delete;
};

int jpeg_error(const uint8_t* data, size_t len, tjhandle h, const char* stage) {
  std::string msg = std::string("JPEG ") + stage + ": " + tjGetErrorStr2(h);
  if (jpeg_is_truncated(data, len)) return fail(kTruncated, msg + " (the data ends before the end-of-image marker)");
  return fail(kCorrupt, msg);
}

int jpeg_info(const uint8_t* data, size_t len, entrupy_image_info* info) {
  TjHandle tj(tjInitDecompress());
  if (!tj.h) return fail(-1, std::string("tjInitDecompress failed: ") + tjGetErrorStr2(nullptr));
  int w = 0, h = 0, subsamp = 0, colorspace = 0;
  if (tjDecompressHeader3(tj.h, data, static_cast<unsigned long>(len), &w, &h, &subsamp, &colorspace) != 0)
    return jpeg_error(data, len, tj.h, "header");
  // A stream that ends inside the header reads as "tables only": success with no dimensions.
  if (w <= 0 || h <= 0) {
    if (jpeg_is_truncated(data, len)) return fail(kTruncated, "JPEG data ends inside the header");
    return fail(kCorrupt, "JPEG header has no frame or a zero dimension");
  }
  info->format = kJpeg;
  info->width = w;
  info->height = h;
  info->channels = colorspace == TJCS_GRAY ? 1 : (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK) ? 4 : 3;
  info->has_alpha = 0;
  info->bits_per_sample = 8;
  // Progressive: SOF2 (or SOF6/10/14) present before the first scan.
  info->interlaced = 0;
  for (size_t i = 2; i + 3 < len;) {
    if (data[i] != 0xFF) break;
    uint8_t m = data[i + 1];
    if (m == 0xC2 || m == 0xC6 || m == 0xCA || m == 0xCE) { info->interlaced = 1; break; }
    if (m == 0xDA || m == 0xC0 || m == 0xC1) break;
    i += 2 + ((static_cast<size_t>(data[i + 2]) << 8) | data[i + 3]);
  }
  return kOk;
}

int jpeg_decode(const uint8_t* data, size_t len, int channels, uint8_t* out) {
  TjHandle tj(tjInitDecompress());
  if (!tj.h) return fail(-1, std::string("tjInitDecompress failed: ") + tjGetErrorStr2(nullptr));
  int w = 0, h = 0, subsamp = 0, colorspace = 0;
  if (tjDecompressHeader3(tj.h, data, static_cast<unsigned long>(len), &w, &h, &subsamp, &colorspace) != 0)
    return jpeg_error(data, len, tj.h, "header");
  if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK)
    return fail(kUnsupported, "CMYK/YCCK JPEGs are not supported (only grayscale and YCbCr/RGB)");
  // STOPONWARNING: libjpeg treats a cut-off stream as a warning and fills the rest with grey; a
  // fingerprint must never be computed from invented pixels, so every warning rejects the image.
  // LIMITSCANS: caps progressive scans (CPU bomb guard).
  const int flags = TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS;
  const int pf = channels == 1 ? TJPF_GRAY : TJPF_RGB;
  if (tjDecompress2(tj.h, data, static_cast<unsigned long>(len), out, w, w * channels, h, pf, flags) != 0)
    return jpeg_error(data, len, tj.h, "data");
  return kOk;
}

// ---------------------------------------------------------------- PNG

struct SpngCtx {
  spng_ctx* c;
  explicit SpngCtx(spng_ctx* ctx) : c(ctx) {}
  ~SpngCtx() {
    if (c) spng_ctx_free(c);
  }
  SpngCtx(const SpngCtx&) = delete;
  SpngCtx& operator=(const SpngCtx&) = delete;
};

int png_status(int err) {
  switch (err) {
    case SPNG_IO_EOF:
    case SPNG_IO_ERROR:
    case SPNG_EIO:
    case SPNG_EOF:
    case SPNG_EIDAT_TOO_SHORT:
      return kTruncated;
    case SPNG_EUSER_WIDTH:
    case SPNG_EUSER_HEIGHT:
    case SPNG_ECHUNK_LIMITS:
    case SPNG_EOVERFLOW:
      return kTooLarge;
    case SPNG_EMEM:
      return -1;
    default:
      return kCorrupt;
  }
}

int png_error(int err, const char* stage) {
  return fail(png_status(err), std::string("PNG ") + stage + ": " + spng_strerror(err));
}

// max_width/max_height of 0 leave spng's own ceiling (2^31-1) in place.
int png_open(SpngCtx& ctx, const uint8_t* data, size_t len, uint32_t max_width, uint32_t max_height,
             spng_ihdr* ihdr) {
  if (!ctx.c) return fail(-1, "spng_ctx_new failed");
  int err = spng_set_png_buffer(ctx.c, data, len);
  if (!err && max_width && max_height) err = spng_set_image_limits(ctx.c, max_width, max_height);
  if (!err) err = spng_set_chunk_limits(ctx.c, kPngMaxChunkBytes, kPngMaxChunkCacheBytes);
  if (err) return png_error(err, "setup");
  err = spng_get_ihdr(ctx.c, ihdr);
  if (err) return png_error(err, "header");
  return kOk;
}

// spng stops once it has seen the IEND type, so a file cut inside IEND's CRC would pass unnoticed.
// Walks the chunk list and requires the complete, fixed 12-byte IEND chunk.
bool png_ends_with_iend(const uint8_t* d, size_t n) {
  static const uint8_t iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82};
  size_t i = 8;
  while (i + 12 <= n) {
    uint64_t length = (static_cast<uint64_t>(d[i]) << 24) | (d[i + 1] << 16) | (d[i + 2] << 8) | d[i + 3];
    if (std::memcmp(d + i + 4, "IEND", 4) == 0) return std::memcmp(d + i, iend, 12) == 0;
    i += 12 + length;
  }
  return false;
}

int png_info(const uint8_t* data, size_t len, entrupy_image_info* info) {
  SpngCtx ctx(spng_ctx_new(0));
  spng_ihdr ihdr{};
  int st = png_open(ctx, data, len, 0, 0, &ihdr);
  if (st != kOk) return st;
  info->format = kPng;
  info->width = static_cast<int32_t>(ihdr.width);
  info->height = static_cast<int32_t>(ihdr.height);
  bool gray = ihdr.color_type == SPNG_COLOR_TYPE_GRAYSCALE || ihdr.color_type == SPNG_COLOR_TYPE_GRAYSCALE_ALPHA;
  info->channels = gray ? 1 : 3;
  bool alpha = ihdr.color_type == SPNG_COLOR_TYPE_GRAYSCALE_ALPHA || ihdr.color_type == SPNG_COLOR_TYPE_TRUECOLOR_ALPHA;
  if (!alpha) {
    // tRNS sits before IDAT, so looking for it only reads the metadata chunks. A damaged chunk there
    // is reported by the decode itself; here it merely means "no transparency known".
    spng_trns trns{};
    alpha = spng_get_trns(ctx.c, &trns) == 0;
  }
  info->has_alpha = alpha ? 1 : 0;
  info->bits_per_sample = ihdr.bit_depth;
  info->interlaced = ihdr.interlace_method == SPNG_INTERLACE_ADAM7 ? 1 : 0;
  return kOk;
}

// Converts decoded RGBA samples (max value M: 255 or 65535) into 8-bit gray or RGB output.
struct PixelSink {
  int out_channels;
  bool source_gray;
  AlphaMode alpha;

  template <typename T>
  void put(const T* rgba, uint32_t max, uint8_t* dst) const {
    uint64_t r = rgba[0], g = rgba[1], b = rgba[2], a = rgba[3];
    if (alpha != kDiscardAlpha && a != max) {
      uint64_t bg = alpha == kCompositeOverWhite ? max : 0;
      r = (r * a + bg * (max - a) + max / 2) / max;
      g = (g * a + bg * (max - a) + max / 2) / max;
      b = (b * a + bg * (max - a) + max / 2) / max;
    }
    if (out_channels == 1) {
      // BT.601 luma in 16.16 fixed point (weights sum to 65536): what libjpeg uses for RGB->gray.
      uint64_t y = source_gray ? r : (19595 * r + 38470 * g + 7471 * b + 32768) >> 16;
      dst[0] = to8(y, max);
    } else {
      dst[0] = to8(r, max);
      dst[1] = to8(g, max);
      dst[2] = to8(b, max);
    }
  }

  static uint8_t to8(uint64_t v, uint32_t max) {
    if (max == 255) return static_cast<uint8_t>(v);
    return static_cast<uint8_t>((v * 255 + max / 2) / max);  // rounded, not truncated, 16 -> 8 bits
  }
};

// Fast path for the PNGs microscopes and our capture tools write: 8-bit gray or RGB, not interlaced, asked for in
// the same layout. libdeflate inflates the joined IDAT data in one call (2-3x zlib's speed on these noisy, barely
// compressible surfaces) and the rows are unfiltered straight into the caller's buffer. Measured on 512 px captures:
// spng spent half its time inflating and most of the rest in its scalar Paeth filter.
//
// It only ever says "decoded" for a file it checked completely (every chunk's CRC, the zlib stream's Adler-32,
// exact sizes, a complete IEND); at the first thing it does not know or does not like it returns false and the
// spng path decodes the file from scratch, so results and error reports for anything unusual stay spng's.
constexpr size_t kPngFastPathMaxBytes = 32u << 20;  // larger images stream through spng instead of a whole-image buffer
constexpr size_t kPngScratchKeepBytes = 4u << 20;   // per-thread buffers up to this size are kept for the next image

uint32_t be32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | p[3];
}

struct DeflateScratch {
  libdeflate_decompressor* decompressor = nullptr;
  std::vector<uint8_t> joined;    // IDAT data when it comes in more than one chunk
  std::vector<uint8_t> filtered;  // the inflated rows, each with its filter byte
  ~DeflateScratch() {
    if (decompressor) libdeflate_free_decompressor(decompressor);
  }
};

// One per thread: the buffers stay allocated (no page faults per image) and the decompressor is not shared.
DeflateScratch& deflate_scratch() {
  thread_local DeflateScratch scratch;
  return scratch;
}

// Branch-free: on noisy surfaces the predictor choice is random, and a mispredicted branch per byte cost twice the
// arithmetic (2.2 vs 1.1 ms per 512 px capture).
inline int paeth(int a, int b, int c) {
  const int pa = std::abs(b - c), pb = std::abs(a - c), pc = std::abs(a + b - 2 * c);
  const int b_not_c = -static_cast<int>(pb <= pc);
  const int b_or_c = (b & b_not_c) | (c & ~b_not_c);
  const int take_a = -static_cast<int>((pa <= pb) & (pa <= pc));
  return (a & take_a) | (b_or_c & ~take_a);
}

// Paeth rows keep each channel's left neighbour in a register: reading it back from the row just written would put a
// store-to-load round trip on the loop's critical path.
inline void unpaeth_gray(const uint8_t* src, const uint8_t* prior, uint8_t* dst, size_t n) {
  int a = dst[0] = static_cast<uint8_t>(src[0] + prior[0]);
  for (size_t i = 1; i < n; i++) dst[i] = static_cast<uint8_t>(a = static_cast<uint8_t>(src[i] + paeth(a, prior[i], prior[i - 1])));
}

inline void unpaeth_rgb(const uint8_t* src, const uint8_t* prior, uint8_t* dst, size_t n) {
  int r = dst[0] = static_cast<uint8_t>(src[0] + prior[0]);
  int g = dst[1] = static_cast<uint8_t>(src[1] + prior[1]);
  int b = dst[2] = static_cast<uint8_t>(src[2] + prior[2]);
  for (size_t i = 3; i + 2 < n; i += 3) {
    dst[i] = static_cast<uint8_t>(r = static_cast<uint8_t>(src[i] + paeth(r, prior[i], prior[i - 3])));
    dst[i + 1] = static_cast<uint8_t>(g = static_cast<uint8_t>(src[i + 1] + paeth(g, prior[i + 1], prior[i - 2])));
    dst[i + 2] = static_cast<uint8_t>(b = static_cast<uint8_t>(src[i + 2] + paeth(b, prior[i + 2], prior[i - 1])));
  }
}

// Reverses one row's filter (PNG spec 9.2). prior is the previous unfiltered row (zeros for the first); n >= Bpp.
template <int Bpp>
bool unfilter_row(uint8_t filter, const uint8_t* src, const uint8_t* prior, uint8_t* dst, size_t n) {
  switch (filter) {
    case 0:
      std::memcpy(dst, src, n);
      return true;
    case 1:
      for (size_t i = 0; i < n; i++) dst[i] = static_cast<uint8_t>(src[i] + (i >= Bpp ? dst[i - Bpp] : 0));
      return true;
    case 2:
      for (size_t i = 0; i < n; i++) dst[i] = static_cast<uint8_t>(src[i] + prior[i]);
      return true;
    case 3:
      for (size_t i = 0; i < n; i++)
        dst[i] = static_cast<uint8_t>(src[i] + (((i >= Bpp ? dst[i - Bpp] : 0) + prior[i]) >> 1));
      return true;
    case 4:
      if (Bpp == 1)
        unpaeth_gray(src, prior, dst, n);
      else
        unpaeth_rgb(src, prior, dst, n);
      return true;
    default:
      return false;
  }
}

template <int Bpp>
bool unfilter_image(const uint8_t* filtered, uint8_t* out, uint32_t height, size_t stride) {
  std::vector<uint8_t> first_prior(stride, 0);
  const uint8_t* prior = first_prior.data();
  for (uint32_t y = 0; y < height; y++) {
    const uint8_t* row = filtered + static_cast<size_t>(y) * (stride + 1);
    uint8_t* dst = out + static_cast<size_t>(y) * stride;
    if (!unfilter_row<Bpp>(row[0], row + 1, prior, dst, stride)) return false;
    prior = dst;
  }
  return true;
}

bool png_decode_fast(const uint8_t* d, size_t n, int channels, AlphaMode alpha, uint8_t* out, uint32_t width,
                     uint32_t height) {
  // Signature (checked by the sniffer), then IHDR: length 13, 8-bit, gray (1 channel) or RGB (3), no interlace.
  if (n < 8 + 25 || be32(d + 8) != 13 || std::memcmp(d + 12, "IHDR", 4) != 0) return false;
  const uint8_t* ihdr = d + 16;
  const uint8_t color_type = ihdr[9];
  if (be32(ihdr) != width || be32(ihdr + 4) != height || ihdr[8] != 8 || ihdr[10] != 0 || ihdr[11] != 0 ||
      ihdr[12] != 0)
    return false;
  if (!((color_type == 0 && channels == 1) || (color_type == 2 && channels == 3))) return false;
  const size_t stride = static_cast<size_t>(width) * channels;
  const size_t filtered_size = (stride + 1) * height;
  if (filtered_size > kPngFastPathMaxBytes) return false;

  // Walk the chunks, checking every CRC; gather the IDAT pieces, which must be consecutive.
  DeflateScratch& scratch = deflate_scratch();
  // On every way out: typical captures (up to ~1,100 px RGB) reuse the buffers, a rare large image does not leave its
  // size pinned on this thread.
  struct TrimOnExit {
    DeflateScratch& s;
    ~TrimOnExit() {
      if (s.joined.capacity() > kPngScratchKeepBytes) std::vector<uint8_t>().swap(s.joined);
      if (s.filtered.capacity() > kPngScratchKeepBytes) std::vector<uint8_t>().swap(s.filtered);
    }
  } trim{scratch};
  const uint8_t* single = nullptr;
  size_t single_len = 0, pieces = 0;
  bool idat_done = false, iend = false;
  scratch.joined.clear();
  size_t i = 8;
  while (i + 12 <= n) {
    const uint32_t length = be32(d + i);
    if (length > kPngMaxChunkBytes || length > n - i - 12) return false;
    const uint8_t* type = d + i + 4;
    if (libdeflate_crc32(0, type, length + 4) != be32(d + i + 8 + length)) return false;
    const bool is_idat = std::memcmp(type, "IDAT", 4) == 0;
    if (is_idat) {
      if (idat_done) return false;
      if (pieces == 0) {
        single = d + i + 8;
        single_len = length;
      } else {
        if (pieces == 1) scratch.joined.assign(single, single + single_len);
        scratch.joined.insert(scratch.joined.end(), d + i + 8, d + i + 8 + length);
      }
      pieces++;
    } else {
      if (pieces > 0) idat_done = true;
      if (std::memcmp(type, "IEND", 4) == 0) {
        iend = length == 0 && i + 12 == n;  // nothing after IEND either
        break;
      }
      // Ancillary chunks (lower-case first letter) do not change 8-bit pixels, except tRNS when compositing.
      const bool ancillary = (type[0] & 0x20) != 0;
      if (i == 8) {  // IHDR itself
      } else if (!ancillary || (alpha != kDiscardAlpha && std::memcmp(type, "tRNS", 4) == 0)) {
        return false;
      }
    }
    i += 12 + length;
  }
  if (!iend || pieces == 0) return false;

  const uint8_t* zdata = pieces == 1 ? single : scratch.joined.data();
  const size_t zlen = pieces == 1 ? single_len : scratch.joined.size();
  if (!scratch.decompressor && !(scratch.decompressor = libdeflate_alloc_decompressor())) return false;
  if (scratch.filtered.size() < filtered_size) scratch.filtered.resize(filtered_size);
  size_t used_in = 0, produced = 0;
  // Checks the zlib header and the Adler-32 of the data too.
  if (libdeflate_zlib_decompress_ex(scratch.decompressor, zdata, zlen, scratch.filtered.data(), filtered_size, &used_in,
                                    &produced) != LIBDEFLATE_SUCCESS ||
      used_in != zlen || produced != filtered_size)
    return false;
  const bool ok = channels == 1 ? unfilter_image<1>(scratch.filtered.data(), out, height, stride)
                                : unfilter_image<3>(scratch.filtered.data(), out, height, stride);
  return ok;
}

int png_decode(const uint8_t* data, size_t len, int channels, AlphaMode alpha, uint32_t max_width,
               uint32_t max_height, uint8_t* out, uint32_t width, uint32_t height) {
  if (width <= max_width && height <= max_height && png_decode_fast(data, len, channels, alpha, out, width, height))
    return kOk;
  SpngCtx ctx(spng_ctx_new(0));
  spng_ihdr ihdr{};
  int st = png_open(ctx, data, len, max_width, max_height, &ihdr);
  if (st != kOk) return st;
  if (ihdr.width != width || ihdr.height != height)
    return fail(kInvalidArgument, "PNG dimensions differ from the buffer's");

  const bool source_gray =
      ihdr.color_type == SPNG_COLOR_TYPE_GRAYSCALE || ihdr.color_type == SPNG_COLOR_TYPE_GRAYSCALE_ALPHA;

  // Fast path: an 8-bit gray (or RGB) PNG asked for as gray (or RGB) is already in the output layout, so spng
  // writes its rows straight into the caller's buffer instead of expanding every pixel to RGBA and back (that
  // conversion cost more than the inflate). Transparency only matters when compositing, and only then via tRNS.
  const bool same_layout =
      ihdr.bit_depth == 8 && ihdr.interlace_method == SPNG_INTERLACE_NONE &&
      ((ihdr.color_type == SPNG_COLOR_TYPE_GRAYSCALE && channels == 1) ||
       (ihdr.color_type == SPNG_COLOR_TYPE_TRUECOLOR && channels == 3));
  spng_trns trns{};
  if (same_layout && (alpha == kDiscardAlpha || spng_get_trns(ctx.c, &trns) != 0)) {
    size_t needed = 0;
    int err = spng_decoded_image_size(ctx.c, SPNG_FMT_PNG, &needed);
    if (err) return png_error(err, "decoder setup");
    const size_t out_len = static_cast<size_t>(width) * height * channels;
    if (needed != out_len) return fail(kCorrupt, "PNG decoded size differs from width*height*channels");
    err = spng_decode_image(ctx.c, out, out_len, SPNG_FMT_PNG, 0);
    if (err) return png_error(err, "data");
    err = spng_decode_chunks(ctx.c);
    if (err) return png_error(err, "trailing chunks");
    if (!png_ends_with_iend(data, len)) return fail(kTruncated, "PNG data ends before a complete IEND chunk");
    return kOk;
  }

  const bool wide = ihdr.bit_depth == 16;
  const int fmt = wide ? SPNG_FMT_RGBA16 : SPNG_FMT_RGBA8;
  const size_t row_bytes = static_cast<size_t>(width) * (wide ? 8 : 4);
  int err = spng_decode_image(ctx.c, nullptr, 0, fmt, SPNG_DECODE_TRNS | SPNG_DECODE_PROGRESSIVE);
  if (err) return png_error(err, "decoder setup");

  // One row of RGBA at a time: the only image-sized memory is the caller's buffer.
  std::vector<uint8_t> row(row_bytes);
  PixelSink sink{channels, source_gray, alpha};
  static const uint32_t adam7_x0[7] = {0, 4, 0, 2, 0, 1, 0};
  static const uint32_t adam7_dx[7] = {8, 8, 4, 4, 2, 2, 1};
  const bool interlaced = ihdr.interlace_method == SPNG_INTERLACE_ADAM7;
  const size_t out_stride = static_cast<size_t>(width) * channels;

  while (true) {
    spng_row_info ri{};
    err = spng_get_row_info(ctx.c, &ri);
    if (err) return png_error(err, "row info");
    err = spng_decode_row(ctx.c, row.data(), row.size());
    if (err != 0 && err != SPNG_EOI) return png_error(err, "data");
    if (ri.row_num >= height) return fail(kCorrupt, "PNG decoder produced a row outside the image");
    // A deinterlaced pass row only fills its pass's columns; the others keep earlier passes' values.
    uint32_t x0 = 0, dx = 1;
    if (interlaced && ri.pass >= 0 && ri.pass < 7) {
      x0 = adam7_x0[ri.pass];
      dx = adam7_dx[ri.pass];
    }
    uint8_t* dst_row = out + static_cast<size_t>(ri.row_num) * out_stride;
    for (uint32_t x = x0; x < width; x += dx) {
      if (wide) {
        uint16_t px[4];
        std::memcpy(px, row.data() + static_cast<size_t>(x) * 8, 8);  // host-endian 16-bit
        sink.put(px, 65535u, dst_row + static_cast<size_t>(x) * channels);
      } else {
        sink.put(row.data() + static_cast<size_t>(x) * 4, 255u, dst_row + static_cast<size_t>(x) * channels);
      }
    }
    if (err == SPNG_EOI) break;
  }
  // Read to IEND: a file cut after its last IDAT is still a cut file.
  err = spng_decode_chunks(ctx.c);
  if (err) return png_error(err, "trailing chunks");
  if (!png_ends_with_iend(data, len)) return fail(kTruncated, "PNG data ends before a complete IEND chunk");
  return kOk;
}

// ---------------------------------------------------------------- BMP (stb_image)

uint32_t le32(const uint8_t* p) {
  return p[0] | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}
uint16_t le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

// stb_image zero-fills whatever a BMP lacks, so the file must hold every row it declares.
int bmp_check(const uint8_t* d, size_t n, int* has_alpha, int* bpp_out) {
  if (n < 30) return fail(kTruncated, "BMP header is cut off");
  uint32_t off_bits = le32(d + 10), header_size = le32(d + 14);
  int64_t w, h;
  uint32_t bpp, compression = 0;
  if (header_size == 12) {
    w = le16(d + 18);
    h = le16(d + 20);
    bpp = le16(d + 24);
  } else {
    if (header_size < 40) return fail(kCorrupt, "BMP info header has an unknown size");
    if (n < 34) return fail(kTruncated, "BMP header is cut off");
    w = static_cast<int32_t>(le32(d + 18));
    h = static_cast<int32_t>(le32(d + 22));
    bpp = le16(d + 28);
    compression = le32(d + 30);
  }
  if (h < 0) h = -h;
  if (w <= 0 || h <= 0) return fail(kCorrupt, "BMP has a zero or negative width/height");
  if (compression != 0 && compression != 3 && compression != 6)
    return fail(kUnsupported, "compressed (RLE/JPEG/PNG) BMPs are not supported");
  if (bpp != 1 && bpp != 4 && bpp != 8 && bpp != 16 && bpp != 24 && bpp != 32)
    return fail(kCorrupt, "BMP has an invalid bit count");
  // Uncompressed rows cannot be a decompression bomb: the file must simply be big enough.
  // Division instead of multiplication keeps absurd header values from overflowing.
  const uint64_t stride = ((static_cast<uint64_t>(w) * bpp + 31) / 32) * 4;
  const uint64_t available = off_bits < n ? n - off_bits : 0;
  if (static_cast<uint64_t>(h) > available / stride) return fail(kTruncated, "BMP pixel data is cut off");
  *has_alpha = (bpp == 32) ? 1 : 0;
  *bpp_out = static_cast<int>(bpp);
  return kOk;
}

int bmp_info(const uint8_t* data, size_t len, entrupy_image_info* info) {
  int has_alpha = 0, bpp = 0;
  int st = bmp_check(data, len, &has_alpha, &bpp);
  if (st != kOk) return st;
  int x = 0, y = 0, comp = 0;
  if (!stbi_info_from_memory(data, static_cast<int>(len), &x, &y, &comp))
    return fail(kCorrupt, std::string("BMP header: ") + stbi_failure_reason());
  info->format = kBmp;
  info->width = x;
  info->height = y;
  info->channels = 3;  // stb expands palettes and 16-bit BMPs to RGB
  info->has_alpha = comp == 4 ? 1 : 0;
  info->bits_per_sample = 8;
  info->interlaced = 0;
  return kOk;
}

int bmp_decode(const uint8_t* data, size_t len, int channels, AlphaMode alpha, uint8_t* out, uint32_t width,
               uint32_t height) {
  int has_alpha = 0, bpp = 0;
  int st = bmp_check(data, len, &has_alpha, &bpp);
  if (st != kOk) return st;
  int x = 0, y = 0, comp = 0;
  if (!stbi_info_from_memory(data, static_cast<int>(len), &x, &y, &comp))
    return fail(kCorrupt, std::string("BMP header: ") + stbi_failure_reason());
  if (static_cast<uint32_t>(x) != width || static_cast<uint32_t>(y) != height)
    return fail(kInvalidArgument, "BMP dimensions differ from the buffer's");
  // stb allocates its own RGBA copy (bounded: the caller already checked the pixel count).
  std::unique_ptr<stbi_uc, void (*)(void*)> px(
      stbi_load_from_memory(data, static_cast<int>(len), &x, &y, &comp, 4), stbi_image_free);
  if (!px) return fail(kCorrupt, std::string("BMP data: ") + stbi_failure_reason());
  if (static_cast<uint32_t>(x) != width || static_cast<uint32_t>(y) != height)
    return fail(kCorrupt, "BMP dimensions changed while decoding");
  PixelSink sink{channels, false, comp == 4 ? alpha : kDiscardAlpha};
  const size_t count = static_cast<size_t>(width) * height;
  for (size_t i = 0; i < count; ++i) sink.put(px.get() + i * 4, 255u, out + i * channels);
  return kOk;
}

// ---------------------------------------------------------------- encoders

struct EncodedImage {
  unsigned char* data = nullptr;
  size_t size = 0;
  bool from_turbojpeg = false;
  ~EncodedImage() {
    if (!data) return;
    if (from_turbojpeg)
      tjFree(data);
    else
      std::free(data);
  }
};

bool valid_raster(const uint8_t* pixels, int32_t width, int32_t height, int32_t channels) {
  return pixels && width > 0 && height > 0 && width <= 65500 && height <= 65500 && (channels == 1 || channels == 3);
}

int read_info_impl(const uint8_t* data, size_t len, entrupy_image_info* info) {
  if (!info) return fail(kInvalidArgument, "info is null");
  std::memset(info, 0, sizeof(*info));
  if (!data || len == 0) return fail(kEmpty, "the image is empty (zero bytes)");
  bool known = false;
  ImageKind kind = sniff(data, len, &known);
  if (!known) return fail(kUnknownFormat, "not a JPEG, PNG or BMP file (unrecognised signature)");
  info->format = kind;  // kept on failure too, so errors can say what the data claimed to be
  int st = kind == kJpeg ? jpeg_info(data, len, info) : kind == kPng ? png_info(data, len, info) : bmp_info(data, len, info);
  if (st != kOk) return st;
  if (info->width <= 0 || info->height <= 0) return fail(kCorrupt, "image header has a zero or negative dimension");
  return kOk;
}

int decode_impl(const uint8_t* data, size_t len, int32_t channels, int32_t alpha_mode, int32_t width,
                int32_t height, int32_t max_width, int32_t max_height, uint8_t* out, size_t out_len) {
  if (!data || len == 0) return fail(kEmpty, "the image is empty (zero bytes)");
  if (!out || (channels != 1 && channels != 3) || width <= 0 || height <= 0 || max_width <= 0 || max_height <= 0 ||
      alpha_mode < kDiscardAlpha || alpha_mode > kCompositeOverWhite)
    return fail(kInvalidArgument, "invalid decode arguments");
  if (width > max_width || height > max_height) return fail(kTooLarge, "image exceeds the dimension limits");
  if (out_len != static_cast<size_t>(width) * static_cast<size_t>(height) * static_cast<size_t>(channels))
    return fail(kInvalidArgument, "output buffer size does not match width*height*channels");
  entrupy_image_info info{};
  int st = read_info_impl(data, len, &info);
  if (st != kOk) return st;
  if (info.width != width || info.height != height)
    return fail(kInvalidArgument, "image dimensions differ from the buffer's");
  const AlphaMode alpha = static_cast<AlphaMode>(alpha_mode);
  switch (info.format) {
    case kJpeg: st = jpeg_decode(data, len, channels, out); break;
    case kPng:
      st = png_decode(data, len, channels, alpha, static_cast<uint32_t>(max_width), static_cast<uint32_t>(max_height),
                      out, static_cast<uint32_t>(width), static_cast<uint32_t>(height));
      break;
    default:
      st = bmp_decode(data, len, channels, alpha, out, static_cast<uint32_t>(width), static_cast<uint32_t>(height));
      break;
  }
  if (st != kOk) return st;
  return kOk;
}

int encode_jpeg_impl(const uint8_t* pixels, int32_t width, int32_t height, int32_t channels, int32_t quality,
                     int32_t subsampling, int32_t progressive, void** handle, const uint8_t** data, size_t* size) {
  if (!handle || !data || !size) return fail(kInvalidArgument, "null output pointer");
  *handle = nullptr;
  *data = nullptr;
  *size = 0;
  if (!valid_raster(pixels, width, height, channels) || quality < 1 || quality > 100 || subsampling < 0 ||
      subsampling > 2)
    return fail(kInvalidArgument, "invalid JPEG encode arguments");
  TjHandle tj(tjInitCompress());
  if (!tj.h) return fail(-1, std::string("tjInitCompress failed: ") + tjGetErrorStr2(nullptr));
  static const int samp[3] = {TJSAMP_444, TJSAMP_422, TJSAMP_420};
  auto encoded = std::make_unique<EncodedImage>();
  encoded->from_turbojpeg = true;
  unsigned long jpeg_size = 0;
  if (tjCompress2(tj.h, pixels, width, width * channels, height, channels == 1 ? TJPF_GRAY : TJPF_RGB,
                  &encoded->data, &jpeg_size, channels == 1 ? TJSAMP_GRAY : samp[subsampling], quality,
                  TJFLAG_ACCURATEDCT | (progressive ? TJFLAG_PROGRESSIVE : 0)) != 0)
    return fail(-1, std::string("JPEG encode: ") + tjGetErrorStr2(tj.h));
  encoded->size = jpeg_size;
  *data = encoded->data;
  *size = encoded->size;
  *handle = encoded.release();
  return kOk;
}

int encode_png_impl(const uint8_t* pixels, int32_t width, int32_t height, int32_t channels,
                    int32_t compression_level, void** handle, const uint8_t** data, size_t* size) {
  if (!handle || !data || !size) return fail(kInvalidArgument, "null output pointer");
  *handle = nullptr;
  *data = nullptr;
  *size = 0;
  if (!valid_raster(pixels, width, height, channels) || compression_level < 0 || compression_level > 9)
    return fail(kInvalidArgument, "invalid PNG encode arguments");
  SpngCtx ctx(spng_ctx_new(SPNG_CTX_ENCODER));
  if (!ctx.c) return fail(-1, "spng_ctx_new failed");
  spng_ihdr ihdr{};
  ihdr.width = static_cast<uint32_t>(width);
  ihdr.height = static_cast<uint32_t>(height);
  ihdr.bit_depth = 8;
  ihdr.color_type = channels == 1 ? SPNG_COLOR_TYPE_GRAYSCALE : SPNG_COLOR_TYPE_TRUECOLOR;
  int err = spng_set_option(ctx.c, SPNG_ENCODE_TO_BUFFER, 1);
  if (!err) err = spng_set_option(ctx.c, SPNG_IMG_COMPRESSION_LEVEL, compression_level);
  if (!err) err = spng_set_ihdr(ctx.c, &ihdr);
  const size_t len = static_cast<size_t>(width) * height * channels;
  if (!err) err = spng_encode_image(ctx.c, pixels, len, SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE);
  if (err) return fail(-1, std::string("PNG encode: ") + spng_strerror(err));
  auto encoded = std::make_unique<EncodedImage>();
  encoded->data = static_cast<unsigned char*>(spng_get_png_buffer(ctx.c, &encoded->size, &err));
  if (!encoded->data || err) return fail(-1, std::string("PNG encode: ") + spng_strerror(err));
  *data = encoded->data;
  *size = encoded->size;
  *handle = encoded.release();
  return kOk;
}

}  // namespace

// Reads the header only: format, dimensions, channels. Never allocates pixel memory. On failure
// info->format still names the signature found (0 when none was recognised).
ENTRUPY_API int entrupy_image_read_info(const uint8_t* data, size_t len, entrupy_image_info* info) {
  ENTRUPY_GUARD(return read_info_impl(data, len, info))
}

// Decodes into the caller's buffer of exactly width*height*channels bytes (channels 1 = gray, 3 = RGB).
// width/height are those entrupy_image_read_info reported (and the caller accepted); max_* feed the
// decoders' own limits as a second line of defence. alpha_mode: 0 discard, 1 over black, 2 over white.
ENTRUPY_API int entrupy_image_decode(const uint8_t* data, size_t len, int32_t channels, int32_t alpha_mode,
                                     int32_t width, int32_t height, int32_t max_width, int32_t max_height,
                                     uint8_t* out, size_t out_len) {
  ENTRUPY_GUARD(return decode_impl(data, len, channels, alpha_mode, width, height, max_width, max_height, out, out_len))
}

// Encodes 8-bit gray (channels 1) or RGB (3) pixels, tightly packed, as a JPEG (baseline, or progressive
// when progressive != 0). subsampling: 0 = 4:4:4, 1 = 4:2:2, 2 = 4:2:0 (ignored for gray). On success
// *handle owns the bytes at *data/*size until entrupy_image_encoded_free(*handle).
ENTRUPY_API int entrupy_image_encode_jpeg(const uint8_t* pixels, int32_t width, int32_t height, int32_t channels,
                                          int32_t quality, int32_t subsampling, int32_t progressive, void** handle,
                                          const uint8_t** data, size_t* size) {
  ENTRUPY_GUARD(return encode_jpeg_impl(pixels, width, height, channels, quality, subsampling, progressive, handle,
                                        data, size))
}

// Encodes 8-bit gray (channels 1) or RGB (3) pixels, tightly packed, as a PNG. compression_level 0..9.
ENTRUPY_API int entrupy_image_encode_png(const uint8_t* pixels, int32_t width, int32_t height, int32_t channels,
                                         int32_t compression_level, void** handle, const uint8_t** data,
                                         size_t* size) {
  ENTRUPY_GUARD(return encode_png_impl(pixels, width, height, channels, compression_level, handle, data, size))
}

// Releases what an encoder returned. Null is ignored.
ENTRUPY_API void entrupy_image_encoded_free(void* handle) { delete static_cast<EncodedImage*>(handle); }

#define ENTRUPY_STRINGIFY2(x) #x
#define ENTRUPY_STRINGIFY(x) ENTRUPY_STRINGIFY2(x)

// Versions of the codec libraries, e.g. "libjpeg-turbo 2.1.5; libspng 0.7.3; stb_image 2.27 (BMP)".
// Copies a NUL-terminated UTF-8 string into buf; returns its full length.
ENTRUPY_API int entrupy_image_versions(char* buf, int capacity) {
  // TurboJPEG 2.x has no runtime version call: this is the version of the headers we were built against.
  std::string text = std::string("libjpeg-turbo ") + ENTRUPY_STRINGIFY(LIBJPEG_TURBO_VERSION) +
                     " (TurboJPEG, build-time); libspng " + spng_version_string() +
                     "; libdeflate " LIBDEFLATE_VERSION_STRING " (8-bit PNG, build-time); stb_image 2.27 (BMP)";
  int n = static_cast<int>(text.size());
  if (buf && capacity > 0) {
    int c = n < capacity - 1 ? n : capacity - 1;
    std::memcpy(buf, text.data(), c);
    buf[c] = '\0';
  }
  return n;
}
