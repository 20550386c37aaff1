#include "format/zip_archive.h"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>
#include <zlib.h>

#include "format/header_cursor.h"

namespace wm {
namespace {

constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr uint32_t kZip64EndSig = 0x06064b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint64_t kEndSize = 22;
constexpr uint64_t kZip64LocatorSize = 20;
constexpr uint64_t kCentralSize = 46;
constexpr uint64_t kLocalSize = 30;
constexpr uint64_t kMaxComment = 0xffff;
constexpr uint16_t kZip64ExtraId = 0x0001;

struct EndRecord {
  uint64_t at = 0;  // offset of the record
  uint64_t entries = 0;
  uint64_t dir_size = 0;
  uint64_t dir_offset = 0;
};

// Finds the end-of-central-directory record: the last signature within the
// final 22 + 65535 bytes whose comment length reaches exactly the file end.
EndRecord find_end(const ByteSource& src) {
  const std::string& name = src.name();
  uint64_t size = src.size();
  if (size < kEndSize)
    throw ParseFailure{Error{name, {}, 0, fmt::format("{} bytes is too short for a zip archive", size)}};
  uint64_t tail_len = std::min<uint64_t>(size, kEndSize + kMaxComment);
  uint64_t tail_start = size - tail_len;
  std::vector<std::byte> tail(tail_len);
  if (Status s = src.read(tail_start, tail); !s) throw ParseFailure{s.error()};
  for (uint64_t i = tail_len - kEndSize + 1; i-- > 0;) {
    uint32_t sig;
    std::memcpy(&sig, tail.data() + i, 4);
    if (sig != kEndSig) continue;
    uint16_t comment;
    std::memcpy(&comment, tail.data() + i + 20, 2);
    if (i + kEndSize + comment != tail_len) continue;
    HeaderCursor c(src, tail_start + i + 4);
    EndRecord r;
    r.at = tail_start + i;
    auto disk = c.read<uint16_t>("disk number");
    auto dir_disk = c.read<uint16_t>("central directory disk");
    auto disk_entries = c.read<uint16_t>("entries on this disk");
    r.entries = c.read<uint16_t>("entry count");
    r.dir_size = c.read<uint32_t>("central directory size");
    r.dir_offset = c.read<uint32_t>("central directory offset");
    if (disk != 0xffff && dir_disk != 0xffff && (disk != 0 || dir_disk != 0 || disk_entries != r.entries))
      c.fail_at(r.at, "multi-disk zip archives are not supported");
    return r;
  }
  throw ParseFailure{Error{name, {}, tail_start, "not a zip archive: no end-of-central-directory record"}};
}

// Replaces 0xffff / 0xffffffff fields with the ZIP64 end record's values.
void read_zip64_end(const ByteSource& src, EndRecord& r) {
  if (r.at < kZip64LocatorSize)
    throw ParseFailure{Error{src.name(), {}, r.at, "ZIP64 sizes announced but no ZIP64 locator fits before the end record"}};
  HeaderCursor loc(src, r.at - kZip64LocatorSize);
  if (loc.read<uint32_t>("ZIP64 locator signature") != kZip64LocatorSig)
    loc.fail_at(r.at - kZip64LocatorSize, "ZIP64 sizes announced but the ZIP64 locator signature is missing");
  loc.skip(4, "ZIP64 disk");
  auto end64 = loc.read<uint64_t>("ZIP64 end record offset");
  if (end64 > r.at) loc.fail_at(r.at - 12, fmt::format("ZIP64 end record offset {} is past the end record", end64));
  HeaderCursor c(src, end64);
  if (c.read<uint32_t>("ZIP64 end signature") != kZip64EndSig) c.fail_at(end64, "bad ZIP64 end record signature");
  c.skip(8 + 2 + 2 + 4 + 4, "ZIP64 end record header");
  auto disk_entries = c.read<uint64_t>("ZIP64 entries on this disk");
  r.entries = c.read<uint64_t>("ZIP64 entry count");
  r.dir_size = c.read<uint64_t>("ZIP64 central directory size");
  r.dir_offset = c.read<uint64_t>("ZIP64 central directory offset");
  if (disk_entries != r.entries) c.fail_at(end64, "multi-disk zip archives are not supported");
}

// Reads the ZIP64 extended-information extra field of a central entry: only
// the fields whose 32-bit versions were saturated are present, in order.
void read_zip64_extra(HeaderCursor& c, uint64_t extra_len, ZipEntry& e, bool need_usize, bool need_csize,
                      bool need_offset) {
  uint64_t end = c.pos() + extra_len;
  while (c.pos() + 4 <= end) {
    uint64_t at = c.pos();
    auto id = c.read<uint16_t>("extra field id");
    auto len = c.read<uint16_t>("extra field length");
    if (c.pos() + len > end) c.fail_at(at, fmt::format("extra field of {} bytes runs past the extra data", len), e.name);
    if (id != kZip64ExtraId) {
      c.skip(len, "extra field");
      continue;
    }
    uint64_t field_end = c.pos() + len;
    auto take = [&](bool needed, uint64_t& out, const char* what) {
      if (!needed) return;
      if (c.pos() + 8 > field_end) c.fail_at(at, fmt::format("ZIP64 extra field lacks the {}", what), e.name);
      out = c.read<uint64_t>(what);
    };
    take(need_usize, e.uncompressed_size, "uncompressed size");
    take(need_csize, e.compressed_size, "compressed size");
    take(need_offset, e.header_offset, "local header offset");
    c.skip(field_end - c.pos(), "rest of ZIP64 extra field");
    need_usize = need_csize = need_offset = false;
  }
  if (need_usize || need_csize || need_offset)
    c.fail(fmt::format("sizes or offset are 0xffffffff but there is no ZIP64 extra field"), e.name);
  c.skip(end - c.pos(), "extra data");
}

ZipEntry read_central_entry(HeaderCursor& c) {
  uint64_t at = c.pos();
  if (c.read<uint32_t>("central directory signature") != kCentralSig)
    c.fail_at(at, "bad central directory entry signature");
  ZipEntry e;
  c.skip(4, "versions");
  auto flags = c.read<uint16_t>("flags");
  auto method = c.read<uint16_t>("compression method");
  c.skip(4, "time and date");
  e.crc32 = c.read<uint32_t>("crc-32");
  uint32_t csize = c.read<uint32_t>("compressed size");
  uint32_t usize = c.read<uint32_t>("uncompressed size");
  auto name_len = c.read<uint16_t>("name length");
  auto extra_len = c.read<uint16_t>("extra length");
  auto comment_len = c.read<uint16_t>("comment length");
  auto disk = c.read<uint16_t>("disk number");
  c.skip(6, "attributes");
  uint32_t offset = c.read<uint32_t>("local header offset");
  e.name.resize(name_len);
  c.read_bytes(e.name.data(), name_len, "entry name");
  e.compressed_size = csize;
  e.uncompressed_size = usize;
  e.header_offset = offset;
  read_zip64_extra(c, extra_len, e, usize == 0xffffffff, csize == 0xffffffff, offset == 0xffffffff);
  c.skip(comment_len, "entry comment");
  if (flags & 0x1) c.fail_at(at, "encrypted zip entries are not supported", e.name);
  if (disk != 0 && disk != 0xffff) c.fail_at(at, "multi-disk zip archives are not supported", e.name);
  if (method != static_cast<uint16_t>(ZipMethod::kStored) && method != static_cast<uint16_t>(ZipMethod::kDeflated))
    c.fail_at(at, fmt::format("compression method {} is not supported (only stored and deflate)", method), e.name);
  e.method = static_cast<ZipMethod>(method);
  if (e.method == ZipMethod::kStored && e.compressed_size != e.uncompressed_size)
    c.fail_at(at,
              fmt::format("stored entry with compressed size {} != uncompressed size {}", e.compressed_size,
                          e.uncompressed_size),
              e.name);
  return e;
}

// The local header repeats the name and has its own extra field (PyTorch
// pads it to align the data): the data starts after both.
void locate_data(const ByteSource& src, ZipEntry& e, uint64_t dir_offset) {
  HeaderCursor c(src, e.header_offset);
  if (e.header_offset > dir_offset || dir_offset - e.header_offset < kLocalSize)
    c.fail_at(e.header_offset, "local header offset is not before the central directory", e.name);
  if (c.read<uint32_t>("local header signature") != kLocalSig)
    c.fail_at(e.header_offset, "bad local header signature", e.name);
  c.skip(22, "local header fields");
  auto name_len = c.read<uint16_t>("local name length");
  auto extra_len = c.read<uint16_t>("local extra length");
  e.data_offset = e.header_offset + kLocalSize + name_len + extra_len;
  if (e.data_offset > dir_offset || e.compressed_size > dir_offset - e.data_offset)
    c.fail_at(e.header_offset,
              fmt::format("entry data [{}, +{}) runs into the central directory at {}", e.data_offset,
                          e.compressed_size, dir_offset),
              e.name);
}

}  // namespace

Result<ZipArchive> ZipArchive::open(const ByteSource& src) {
  try {
    EndRecord end = find_end(src);
    if (end.entries == 0xffff || end.dir_size == 0xffffffff || end.dir_offset == 0xffffffff) read_zip64_end(src, end);
    if (end.dir_offset > end.at || end.dir_size > end.at - end.dir_offset)
      throw ParseFailure{Error{src.name(), {}, end.at,
                               fmt::format("central directory [{}, +{}) runs past the end record at {}",
                                           end.dir_offset, end.dir_size, end.at)}};
    if (end.entries > end.dir_size / kCentralSize)
      throw ParseFailure{Error{src.name(), {}, end.at,
                               fmt::format("{} entries cannot fit a {} byte central directory", end.entries,
                                           end.dir_size)}};
    ZipArchive zip;
    zip.entries_.reserve(end.entries);
    HeaderCursor c(src, end.dir_offset);
    for (uint64_t i = 0; i < end.entries; ++i) {
      zip.entries_.push_back(read_central_entry(c));
      if (c.pos() > end.dir_offset + end.dir_size)
        c.fail(fmt::format("central directory entry {} runs past the directory's {} bytes", i, end.dir_size));
    }
    for (size_t i = 0; i < zip.entries_.size(); ++i) {
      ZipEntry& e = zip.entries_[i];
      locate_data(src, e, end.dir_offset);
      // Two entries of one name would make "which one?" depend on the reader.
      if (!zip.by_name_.emplace(e.name, i).second)
        throw ParseFailure{Error{src.name(), {}, e.header_offset, fmt::format("duplicate zip entry '{}'", e.name)}};
    }
    return zip;
  } catch (const ParseFailure& f) {
    return f.error;
  } catch (const std::bad_alloc&) {
    return Error{src.name(), {}, {}, "out of memory reading the zip directory"};
  }
}

const ZipEntry* ZipArchive::find(std::string_view name) const {
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : &entries_[it->second];
}

Result<std::vector<std::byte>> ZipArchive::read(const ByteSource& src, const ZipEntry& e, uint64_t max_bytes) const {
  if (e.uncompressed_size > max_bytes)
    return Error{src.name(), {}, e.header_offset,
                 fmt::format("zip entry '{}' holds {} bytes, more than the {} byte limit", e.name,
                             e.uncompressed_size, max_bytes)};
  std::vector<std::byte> out(e.uncompressed_size);
  Status s = e.method == ZipMethod::kStored ? src.read(e.data_offset, out)
                                            : inflate_range(src, e.data_offset, e.compressed_size, 0, out, e.name);
  if (!s) return s.error();
  uLong crc = ::crc32(0L, Z_NULL, 0);
  for (uint64_t done = 0; done < out.size();) {  // crc32 takes 32-bit lengths
    auto n = static_cast<uInt>(std::min<uint64_t>(out.size() - done, 1u << 30));
    crc = ::crc32(crc, reinterpret_cast<const Bytef*>(out.data() + done), n);
    done += n;
  }
  if (crc != e.crc32)
    return Error{src.name(), {}, e.data_offset,
                 fmt::format("zip entry '{}' fails its CRC check (stored {:08x}, computed {:08x})", e.name, e.crc32,
                             static_cast<uint32_t>(crc))};
  return out;
}

Status inflate_range(const ByteSource& src, uint64_t offset, uint64_t compressed_size, uint64_t skip,
                     std::span<std::byte> dst, const std::string& entry_name, std::optional<uint32_t> expected_crc) {
  auto fail = [&](uint64_t at, std::string msg) {
    return Status(Error{src.name(), {}, at, fmt::format("zip entry '{}': {}", entry_name, msg)});
  };
  if (offset > src.size() || compressed_size > src.size() - offset)
    return fail(offset, "compressed data runs past the end of the file");
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) return fail(offset, "cannot initialise zlib");
  struct End {
    z_stream* z;
    ~End() { inflateEnd(z); }
  } end{&z};
  constexpr uint64_t kIn = 1 << 20, kOut = 1 << 20;
  std::vector<std::byte> in(std::min(kIn, compressed_size)), scratch(kOut);
  uint64_t read_pos = 0, produced = 0, delivered = 0;
  uLong crc = ::crc32(0L, Z_NULL, 0);
  bool ended = false;
  // Without a CRC to check, stop once dst is full; with one, inflate to the end.
  while (delivered < dst.size() || (expected_crc && !ended)) {
    if (z.avail_in == 0) {
      if (read_pos == compressed_size)
        return fail(offset + read_pos, fmt::format("deflate data ends after {} bytes; {} needed", produced,
                                                   skip + dst.size()));
      uint64_t n = std::min<uint64_t>(in.size(), compressed_size - read_pos);
      if (Status s = src.read(offset + read_pos, {in.data(), n}); !s) return s;
      read_pos += n;
      z.next_in = reinterpret_cast<Bytef*>(in.data());
      z.avail_in = static_cast<uInt>(n);
    }
    // Inflate straight into dst once the skipped prefix is behind us (and,
    // checking the CRC, what follows dst into the scratch buffer).
    const bool into_dst = produced >= skip && delivered < dst.size();
    std::byte* out = into_dst ? dst.data() + delivered : scratch.data();
    uint64_t room = into_dst ? dst.size() - delivered
                    : produced < skip ? std::min<uint64_t>(kOut, skip - produced)
                                      : kOut;
    room = std::min<uint64_t>(room, 1u << 30);
    z.next_out = reinterpret_cast<Bytef*>(out);
    z.avail_out = static_cast<uInt>(room);
    int rc = inflate(&z, Z_NO_FLUSH);
    uint64_t got = room - z.avail_out;
    if (expected_crc) crc = ::crc32(crc, reinterpret_cast<const Bytef*>(out), static_cast<uInt>(got));
    if (into_dst) delivered += got;
    produced += got;
    ended = rc == Z_STREAM_END;
    if (rc == Z_STREAM_END && delivered < dst.size())
      return fail(offset + read_pos, fmt::format("deflate stream ends after {} bytes; {} needed", produced,
                                                 skip + dst.size()));
    if (rc != Z_OK && rc != Z_STREAM_END && !(rc == Z_BUF_ERROR && z.avail_in == 0))
      return fail(offset + read_pos, fmt::format("corrupt deflate data ({})", z.msg ? z.msg : "zlib error"));
  }
  if (expected_crc && static_cast<uint32_t>(crc) != *expected_crc)
    return fail(offset, fmt::format("fails its CRC check (stored {:08x}, computed {:08x}): the entry is corrupt",
                                    *expected_crc, static_cast<uint32_t>(crc)));
  return {};
}

}  // namespace wm
