#include "checkpoint/zip_reader.h"

#include <algorithm>
#include <utility>

#include "common/error.h"

namespace tokenscope {

namespace {

constexpr uint32_t kLocalHeaderSignature = 0x04034b50;
constexpr uint32_t kCentralHeaderSignature = 0x02014b50;
constexpr uint32_t kEndOfCentralDirectorySignature = 0x06054b50;
constexpr uint32_t kZip64EndOfCentralDirectorySignature = 0x06064b50;
constexpr uint32_t kZip64LocatorSignature = 0x07064b50;

constexpr std::size_t kLocalHeaderSize = 30;
constexpr std::size_t kCentralHeaderSize = 46;
constexpr std::size_t kEndOfCentralDirectorySize = 22;
constexpr std::size_t kZip64EndOfCentralDirectorySize = 56;
constexpr std::size_t kZip64LocatorSize = 20;
constexpr std::size_t kMaxCommentSize = 0xffff;

constexpr uint16_t kZip64ExtraId = 0x0001;
constexpr uint16_t kFlagEncrypted = 0x0001;
constexpr uint16_t kMethodStored = 0;

// Callers check the range first; these only assemble little-endian values byte by byte so that
// no unaligned load happens.
uint16_t readU16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t readU32(const uint8_t* p) {
    return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
           (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
uint64_t readU64(const uint8_t* p) {
    return static_cast<uint64_t>(readU32(p)) | (static_cast<uint64_t>(readU32(p + 4)) << 32);
}

// True when [offset, offset + length) lies inside a buffer of `size` bytes, without overflow.
bool fits(uint64_t offset, uint64_t length, uint64_t size) {
    return offset <= size && length <= size - offset;
}

std::string quoted(const std::string& name) {
    std::string out = "'";
    for (char c : name.substr(0, 200)) {
        const auto byte = static_cast<unsigned char>(c);
        out += (byte >= 0x20 && byte < 0x7f) ? c : '?';
    }
    if (name.size() > 200) out += "...";
    return out + "'";
}

}  // namespace

ZipReader::ZipReader(const uint8_t* bytes, std::size_t size, std::string fileName)
    : m_bytes(bytes), m_size(size), m_fileName(std::move(fileName)) {
    if (m_bytes == nullptr && m_size != 0) fail("no data");
    readCentralDirectory(readEndOfCentralDirectory());
}

const ZipEntry* ZipReader::find(std::string_view name) const {
    const auto it = m_indexByName.find(std::string(name));
    return it == m_indexByName.end() ? nullptr : &m_entries[it->second];
}

void ZipReader::fail(const std::string& problem) const { throw Error(m_fileName + ": " + problem); }

ZipReader::CentralDirectory ZipReader::readEndOfCentralDirectory() const {
    if (m_size < kEndOfCentralDirectorySize) {
        fail("not a zip archive: " + std::to_string(m_size) + " bytes is too short (truncated?)");
    }
    // The record is the last thing in the file, followed only by a comment of up to 64 KiB;
    // search backwards so that a signature inside the comment cannot shadow the real record.
    const std::size_t lastStart = m_size - kEndOfCentralDirectorySize;
    const std::size_t firstStart = lastStart > kMaxCommentSize ? lastStart - kMaxCommentSize : 0;
    std::size_t eocd = lastStart + 1;
    for (std::size_t pos = lastStart + 1; pos-- > firstStart;) {
        if (readU32(m_bytes + pos) != kEndOfCentralDirectorySignature) continue;
        const uint16_t commentSize = readU16(m_bytes + pos + 20);
        if (pos + kEndOfCentralDirectorySize + commentSize <= m_size) {
            eocd = pos;
            break;
        }
    }
    if (eocd > lastStart) {
        fail("not a zip archive or truncated: no end-of-central-directory record found");
    }

    const uint8_t* record = m_bytes + eocd;
    const uint16_t diskNumber = readU16(record + 4);
    const uint16_t directoryDisk = readU16(record + 6);
    const uint16_t entriesOnDisk = readU16(record + 8);
    CentralDirectory directory;
    directory.entryCount = readU16(record + 10);
    directory.size = readU32(record + 12);
    directory.offset = readU32(record + 16);

    // The ZIP64 locator, when present, sits right before the end-of-central-directory record.
    const bool hasLocator =
        eocd >= kZip64LocatorSize && readU32(m_bytes + eocd - kZip64LocatorSize) == kZip64LocatorSignature;
    if (hasLocator) {
        const uint8_t* locator = m_bytes + eocd - kZip64LocatorSize;
        const uint32_t zip64Disk = readU32(locator + 4);
        const uint64_t zip64Offset = readU64(locator + 8);
        const uint32_t diskCount = readU32(locator + 16);
        if (zip64Disk != 0 || diskCount > 1) fail("multi-disk zip archives are not supported");
        if (!fits(zip64Offset, kZip64EndOfCentralDirectorySize, eocd - kZip64LocatorSize)) {
            fail("zip64 end-of-central-directory record at byte " + std::to_string(zip64Offset) +
                 " lies outside the file (truncated?)");
        }
        const uint8_t* record64 = m_bytes + zip64Offset;
        if (readU32(record64) != kZip64EndOfCentralDirectorySignature) {
            fail("damaged zip: no zip64 end-of-central-directory record at byte " +
                 std::to_string(zip64Offset));
        }
        if (readU32(record64 + 16) != 0 || readU32(record64 + 20) != 0) {
            fail("multi-disk zip archives are not supported");
        }
        const uint64_t entriesOnDisk64 = readU64(record64 + 24);
        directory.entryCount = readU64(record64 + 32);
        directory.size = readU64(record64 + 40);
        directory.offset = readU64(record64 + 48);
        if (entriesOnDisk64 != directory.entryCount) fail("multi-disk zip archives are not supported");
    } else {
        if (diskNumber != 0 || directoryDisk != 0 || entriesOnDisk != directory.entryCount) {
            fail("multi-disk zip archives are not supported");
        }
    }

    const uint64_t directoryEnd = hasLocator ? eocd - kZip64LocatorSize : eocd;
    if (!fits(directory.offset, directory.size, directoryEnd)) {
        fail("central directory (" + std::to_string(directory.size) + " bytes at byte " +
             std::to_string(directory.offset) + ") lies outside the file (truncated?)");
    }
    if (directory.entryCount > directory.size / kCentralHeaderSize) {
        fail("central directory claims " + std::to_string(directory.entryCount) + " entries in " +
             std::to_string(directory.size) + " bytes");
    }
    return directory;
}

void ZipReader::readCentralDirectory(const CentralDirectory& directory) {
    m_entries.reserve(static_cast<std::size_t>(directory.entryCount));
    uint64_t pos = directory.offset;
    const uint64_t end = directory.offset + directory.size;
    for (uint64_t index = 0; index < directory.entryCount; ++index) {
        if (!fits(pos, kCentralHeaderSize, end)) fail("central directory is truncated");
        const uint8_t* header = m_bytes + pos;
        if (readU32(header) != kCentralHeaderSignature) {
            fail("damaged zip: bad central directory header at byte " + std::to_string(pos));
        }
        const uint16_t flags = readU16(header + 8);
        const uint16_t method = readU16(header + 10);
        uint64_t compressedSize = readU32(header + 20);
        uint64_t uncompressedSize = readU32(header + 24);
        const uint16_t nameSize = readU16(header + 28);
        const uint16_t extraSize = readU16(header + 30);
        const uint16_t commentSize = readU16(header + 32);
        uint32_t diskStart = readU16(header + 34);
        uint64_t localOffset = readU32(header + 42);
        const uint64_t variableSize = uint64_t{nameSize} + extraSize + commentSize;
        if (!fits(pos + kCentralHeaderSize, variableSize, end)) fail("central directory is truncated");

        const char* namePtr = reinterpret_cast<const char*>(header + kCentralHeaderSize);
        std::string name(namePtr, nameSize);

        // ZIP64 extended information: only the fields whose 32-bit value is saturated are
        // present, in this order.
        const uint8_t* extra = header + kCentralHeaderSize + nameSize;
        std::size_t extraPos = 0;
        while (extraPos + 4 <= extraSize) {
            const uint16_t id = readU16(extra + extraPos);
            const uint16_t length = readU16(extra + extraPos + 2);
            if (extraPos + 4 + length > extraSize) fail("damaged extra field of entry " + quoted(name));
            if (id == kZip64ExtraId) {
                const uint8_t* field = extra + extraPos + 4;
                std::size_t fieldPos = 0;
                auto take64 = [&](uint64_t& value) {
                    if (value != 0xffffffffu) return;
                    if (fieldPos + 8 > length) fail("damaged zip64 extra field of entry " + quoted(name));
                    value = readU64(field + fieldPos);
                    fieldPos += 8;
                };
                take64(uncompressedSize);
                take64(compressedSize);
                take64(localOffset);
                if (diskStart == 0xffff) {
                    if (fieldPos + 4 > length) fail("damaged zip64 extra field of entry " + quoted(name));
                    diskStart = readU32(field + fieldPos);
                }
            }
            extraPos += 4 + std::size_t{length};
        }

        if (diskStart != 0) fail("multi-disk zip archives are not supported");
        if (flags & kFlagEncrypted) fail("entry " + quoted(name) + " is encrypted");
        if (method != kMethodStored) {
            fail("entry " + quoted(name) + " is compressed (method " + std::to_string(method) +
                 "); only stored (uncompressed) entries are supported, as torch.save writes them");
        }
        if (compressedSize != uncompressedSize) {
            fail("entry " + quoted(name) + " is stored but its compressed and uncompressed sizes differ");
        }

        ZipEntry entry;
        entry.dataOffset = readLocalHeader(name, localOffset, compressedSize);
        entry.size = compressedSize;
        entry.name = std::move(name);
        if (!m_indexByName.emplace(entry.name, m_entries.size()).second) {
            fail("entry " + quoted(entry.name) + " appears twice");
        }
        m_entries.push_back(std::move(entry));
        pos += kCentralHeaderSize + variableSize;
    }
}

uint64_t ZipReader::readLocalHeader(const std::string& name, uint64_t headerOffset, uint64_t size) const {
    if (!fits(headerOffset, kLocalHeaderSize, m_size)) {
        fail("local header of entry " + quoted(name) + " lies outside the file (truncated?)");
    }
    const uint8_t* header = m_bytes + headerOffset;
    if (readU32(header) != kLocalHeaderSignature) fail("damaged zip: bad local header of entry " + quoted(name));
    if (readU16(header + 8) != kMethodStored) fail("entry " + quoted(name) + " is compressed");
    const uint16_t nameSize = readU16(header + 26);
    const uint16_t extraSize = readU16(header + 28);
    const uint64_t dataOffset = headerOffset + kLocalHeaderSize + nameSize + extraSize;
    if (!fits(headerOffset + kLocalHeaderSize, nameSize, m_size) ||
        std::string_view(reinterpret_cast<const char*>(header + kLocalHeaderSize), nameSize) != name) {
        fail("damaged zip: local and central names of entry " + quoted(name) + " differ");
    }
    if (!fits(dataOffset, size, m_size)) {
        fail("entry " + quoted(name) + " (" + std::to_string(size) + " bytes at byte " +
             std::to_string(dataOffset) + ") runs past the end of the file (" + std::to_string(m_size) +
             " bytes; truncated?)");
    }
    return dataOffset;
}

}  // namespace tokenscope
