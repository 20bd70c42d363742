#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tokenscope {

// One member of a ZIP archive whose bytes are stored as they are (method 0), so that
// [dataOffset, dataOffset + size) of the archive is the member's content.
struct ZipEntry {
    std::string name;
    uint64_t dataOffset = 0;  // from the start of the archive to the first content byte
    uint64_t size = 0;        // content bytes (compressed size == uncompressed size)
};

// A minimal reader for the archives torch.save writes: end-of-central-directory record (and
// the ZIP64 locator + ZIP64 end-of-central-directory record when present), central directory,
// local headers, the ZIP64 extended-information extra field. It checks every offset against
// the buffer and refuses what it does not support: compressed or encrypted members,
// multi-disk archives, duplicate names.
//
// The reader does not copy or own the bytes: `bytes` must stay valid while entries are read
// through data(). CRCs are not verified (the members of a checkpoint are gigabytes).
// Throws Error whose message starts with `fileName` ("pytorch_model.bin: ...").
class ZipReader {
public:
    ZipReader(const uint8_t* bytes, std::size_t size, std::string fileName);

    // Members in central-directory order.
    const std::vector<ZipEntry>& entries() const { return m_entries; }
    // The member with exactly this name, or nullptr.
    const ZipEntry* find(std::string_view name) const;
    // The member's content; always inside the buffer given to the constructor.
    const uint8_t* data(const ZipEntry& entry) const { return m_bytes + entry.dataOffset; }
    const std::string& fileName() const { return m_fileName; }

private:
    struct CentralDirectory {
        uint64_t entryCount = 0;
        uint64_t offset = 0;
        uint64_t size = 0;
    };
    CentralDirectory readEndOfCentralDirectory() const;
    void readCentralDirectory(const CentralDirectory& directory);
    uint64_t readLocalHeader(const std::string& name, uint64_t headerOffset, uint64_t size) const;
    [[noreturn]] void fail(const std::string& problem) const;

    const uint8_t* m_bytes = nullptr;
    std::size_t m_size = 0;
    std::string m_fileName;
    std::vector<ZipEntry> m_entries;
    std::unordered_map<std::string, std::size_t> m_indexByName;
};

}  // namespace tokenscope
