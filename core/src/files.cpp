#include "steppar/files.hpp"

#include "steppar/error.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace fs = std::filesystem;

namespace steppar {

void throw_file_error(const std::string& what, const fs::path& path, int error) {
    throw StateError("cannot " + what + " '" + path.string() + "': " + std::strerror(error));
}

void remove_file_and_empty_folders(const std::string& path, const fs::path& root) {
    if (::unlink(path.c_str()) != 0) return;
    const fs::path stop = root.lexically_normal();
    for (fs::path dir = fs::path(path).parent_path().lexically_normal();
         !dir.empty() && dir != stop && dir.native().size() > stop.native().size(); dir = dir.parent_path())
        if (::rmdir(dir.c_str()) != 0) break;  // not empty: done
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw_file_error("open", path, errno);
    std::ostringstream buffer;
    buffer << in.rdbuf();
    if (in.bad()) throw_file_error("read", path, errno);
    return buffer.str();
}

void sync_filesystem(const fs::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;  // nothing was written there
    ::syncfs(fd);
    ::close(fd);
}

}  // namespace steppar
