#include "steppar/catalog.hpp"

#include "steppar/error.hpp"
#include "steppar/interruption.hpp"
#include "steppar/temporary_files.hpp"
#include "steppar/text.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <memory>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace steppar {

std::string Dataset::partition_path(std::string_view partition) const {
    std::string file = path.native();
    if (!file.empty() && file.back() != '/') file.push_back('/');
    if (folder_suffix.empty()) {
        file.append(partition);
    } else {
        for (std::size_t slash; (slash = partition.find('/')) != std::string_view::npos; partition.remove_prefix(slash + 1))
            file.append(partition.substr(0, slash)).append(folder_suffix).push_back('/');
        file.append(partition);
    }
    file.append(suffix);
    return file;
}

namespace {

// Walks a dataset folder with readdir(3) and relative names only: a million partitions must
// list in a fraction of a second, without a std::filesystem::path per file.
class PartitionLister {
public:
    /// `stamps`: also stat each partition file (scan_partitions).
    PartitionLister(const Dataset& dataset, std::vector<std::string>& names, std::vector<FileStamp>* stamps = nullptr,
                    std::vector<std::string>* temporaries = nullptr)
        : dataset_(dataset), names_(names), stamps_(stamps), temporaries_(temporaries) {}

    void walk(int dir_fd, const std::string& prefix, int depth) {
        DIR* dir = ::fdopendir(dir_fd);
        if (!dir) {
            const int error = errno;
            ::close(dir_fd);
            fail(prefix, error);
        }
        std::unique_ptr<DIR, int (*)(DIR*)> owner(dir, ::closedir);
        if (depth > 256) {
            // The path of a loop repeats itself 256 times: name where it starts, not all of it.
            std::string start;
            for (std::size_t at = 0, parts = 0; at < disk_prefix_.size() && parts < 3; ++at) {
                start.push_back(disk_prefix_[at]);
                parts += disk_prefix_[at] == '/';
            }
            throw InputError("dataset '" + dataset_.name + "': folders nest more than 256 deep under '" + shown(start) +
                             "...' (a symbolic link loop?); remove the link that points back up");
        }
        // Entries are visited in the order of their names as partition paths continue them (a
        // folder's as "name/"), so the walk yields partitions already in byte order: no sort of
        // a million names afterwards.
        // The partition name's next piece: "a" for a file, "a/" for a folder. On disk, a file is
        // the piece + suffix, a folder the piece without "/" + folder suffix.
        std::vector<std::string> entries;
        errno = 0;
        while (const dirent* entry = ::readdir(dir)) {
            interruption_point();  // a million entries, or a slow network filesystem
            const std::string_view name = entry->d_name;
            if (name.empty() || name.front() == '.') {  // ".", "..", hidden files and temporaries
                if (temporaries_ && is_temporary_name(name))
                    temporaries_->push_back((dataset_.path / disk_prefix_).string() + std::string(name));
                errno = 0;
                continue;
            }
            unsigned char type = entry->d_type;
            if (type == DT_UNKNOWN || type == DT_LNK) {
                struct stat st {};
                if (::fstatat(::dirfd(dir), entry->d_name, &st, 0) != 0) {  // e.g. a dangling link
                    errno = 0;
                    continue;
                }
                type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
            }
            if (type == DT_DIR && ends_with(name, dataset_.folder_suffix))  // else not a folder of an encoded name
                entries.push_back(std::string(name.substr(0, name.size() - dataset_.folder_suffix.size())) + "/");
            else if (type == DT_REG && ends_with(name, dataset_.suffix))  // else not a partition file
                entries.emplace_back(name.substr(0, name.size() - dataset_.suffix.size()));
            errno = 0;
        }
        if (errno != 0) fail(prefix, errno);
        std::sort(entries.begin(), entries.end());
        std::string disk;
        for (auto& key : entries) {
            interruption_point();
            if (key.back() == '/') {
                disk.assign(key, 0, key.size() - 1).append(dataset_.folder_suffix);
                const int sub = ::openat(::dirfd(dir), disk.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (sub < 0) fail(prefix + disk, errno);
                const std::size_t disk_length = disk_prefix_.size();
                disk_prefix_.append(disk).push_back('/');
                walk(sub, prefix + key, depth + 1);
                disk_prefix_.resize(disk_length);
            } else {
                disk.assign(key).append(dataset_.suffix);
                if (stamps_) stamps_->push_back(stamp_at(::dirfd(dir), disk.c_str()));
                add(prefix, std::move(key), disk);
            }
        }
    }

private:
    // A name that is exactly the suffix has nothing left: it is no partition (nor folder).
    static bool ends_with(std::string_view name, std::string_view suffix) {
        return suffix.empty() || (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0);
    }
    void add(const std::string& prefix, std::string name, const std::string& filename) {
        std::string relative = prefix.empty() ? std::move(name) : prefix + name;
        // Plans and markers are JSON, which holds only UTF-8: such a name could not be recorded.
        if (!valid_utf8(relative))
            throw InputError("dataset '" + dataset_.name + "': file name '" + shown(disk_prefix_ + filename) +
                             "' is not valid UTF-8; rename it (partition names are stored in JSON)");
        names_.push_back(std::move(relative));
    }
    std::string shown(const std::string& relative) const { return (dataset_.path / relative).string(); }
    [[noreturn]] void fail(const std::string& relative, int error) const {
        throw StateError("dataset '" + dataset_.name + "': cannot list '" + shown(relative) + "': " + std::strerror(error));
    }

    const Dataset& dataset_;
    std::vector<std::string>& names_;
    std::vector<FileStamp>* stamps_;
    std::vector<std::string>* temporaries_;
    std::string disk_prefix_;  // the folder being walked, relative to the dataset, as on disk
};

}  // namespace

std::vector<std::string> list_partitions(const Dataset& dataset) {
    std::error_code ec;
    if (!fs::is_directory(dataset.path, ec))
        throw StateError("dataset '" + dataset.name + "': input folder '" + dataset.path.string() +
                         "' does not exist (create it or fix the catalog path)");
    std::vector<std::string> names;
    const int root = ::open(dataset.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        throw StateError("dataset '" + dataset.name + "': cannot list '" + dataset.path.string() + "': " + std::strerror(errno));
    PartitionLister(dataset, names).walk(root, "", 0);
    if (!std::is_sorted(names.begin(), names.end())) std::sort(names.begin(), names.end());  // never, but cheap to be sure
    return names;
}

PartitionScan scan_partitions(const Dataset& dataset, bool missing_ok, std::vector<std::string>* temporaries, bool with_stamps) {
    PartitionScan scan;
    std::error_code ec;
    if (!fs::is_directory(dataset.path, ec)) {
        if (missing_ok) return scan;
        throw StateError("dataset '" + dataset.name + "': input folder '" + dataset.path.string() +
                         "' does not exist (create it or fix the catalog path)");
    }
    const int root = ::open(dataset.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        throw StateError("dataset '" + dataset.name + "': cannot list '" + dataset.path.string() + "': " + std::strerror(errno));
    PartitionLister(dataset, scan.names, with_stamps ? &scan.stamps : nullptr, temporaries).walk(root, "", 0);
    if (!std::is_sorted(scan.names.begin(), scan.names.end())) {  // never, but cheap to be sure
        std::vector<std::size_t> order(scan.names.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scan.names[a] < scan.names[b]; });
        PartitionScan sorted;
        for (const auto i : order) {
            sorted.names.push_back(std::move(scan.names[i]));
            if (with_stamps) sorted.stamps.push_back(scan.stamps[i]);
        }
        scan = std::move(sorted);
    }
    return scan;
}

void Catalog::add(Dataset dataset) {
    const std::string name = dataset.name;
    if (!datasets_.emplace(name, std::move(dataset)).second)
        throw std::invalid_argument("dataset '" + name + "' is declared twice");
}

bool Catalog::contains(std::string_view name) const { return datasets_.find(name) != datasets_.end(); }

const Dataset& Catalog::at(std::string_view name) const {
    const auto it = datasets_.find(name);
    if (it == datasets_.end()) throw std::out_of_range("no dataset '" + std::string(name) + "'");
    return it->second;
}

std::vector<std::string> Catalog::names() const {
    std::vector<std::string> names;
    for (const auto& [name, _] : datasets_) names.push_back(name);
    return names;
}

}  // namespace steppar
