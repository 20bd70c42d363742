#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace tokenscope {

// A read-only memory mapping of a whole file. Movable, not copyable; the mapping lives as long as
// the object (share it with std::shared_ptr when tensors point into it). Throws Error naming the
// path when the file cannot be opened or mapped. An empty file maps to size() == 0, data() != null.
class MappedFile {
public:
    static std::shared_ptr<MappedFile> open(const std::string& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const uint8_t* data() const { return m_data; }
    std::size_t size() const { return m_size; }
    const std::string& path() const { return m_path; }

private:
    MappedFile(std::string path, const uint8_t* data, std::size_t size);
    std::string m_path;
    const uint8_t* m_data = nullptr;
    std::size_t m_size = 0;
};

// The last path component ("dir/model.safetensors" -> "model.safetensors"), for error messages.
std::string fileNameOf(const std::string& path);

}  // namespace tokenscope
