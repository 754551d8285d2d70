#include "steppar/catalog.hpp"

#include "steppar/error.hpp"
#include "steppar/files.hpp"
#include "steppar/interruption.hpp"
#include "steppar/temporary_files.hpp"
#include "steppar/text.hpp"

#include "steppar/usable_cores.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
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
// list in a fraction of a second, without a std::filesystem::path per file. The walk is split
// into tasks run by every core the process may use: listing one folder, or stat'ing a range of
// up to `stat_chunk` of its files. A million partitions are two million system calls or so,
// and a core does about a million a second, so more cores is the only way to go faster (tmpfs:
// the calls are the whole cost). Each folder keeps its sorted entries; the partitions come out
// in byte order by walking the folders depth first at the end: no sort of a million names.
struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
};

class PartitionWalk {
public:
    PartitionWalk(const Dataset& dataset, int root_fd, bool stamps, bool temporaries)
        : dataset_(dataset), root_fd_(root_fd), stamps_(stamps), temporaries_(temporaries) {}

    /// `under`: only the folder of that name (as a partition name's folders, "a/b"), whose
    /// partitions are named from the dataset's root ("a/b/x"); empty: the whole dataset.
    void run(std::vector<std::string>& names, std::vector<FileStamp>* stamps, std::vector<std::string>* temporaries,
             const std::string& under = {}) {
        folders_.push_back(std::make_unique<Folder>());
        if (!under.empty()) folders_.front()->disk = folders_.front()->prefix = under + "/";
        pending_ = 1;
        list(*folders_.front());  // a small dataset needs no thread
        finish_task();
        if (!queue_.empty()) {
            const unsigned helpers = std::min(usable_cores(), 16u) - 1;
            std::vector<std::thread> threads;
            for (unsigned k = 0; k < helpers; ++k) threads.emplace_back([this] { work(); });
            work();
            for (auto& t : threads) t.join();
        }
        if (error_) std::rethrow_exception(error_);
        Folder& root = *folders_.front();
        if (folders_.size() == 1 && names.empty()) {  // one flat folder: its names are the answer, as they are
            names = std::move(root.keys);
            if (stamps) *stamps = std::move(root.stamps);
            if (temporaries) temporaries->insert(temporaries->end(), root.temporaries.begin(), root.temporaries.end());
            return;
        }
        reserve_huge(names, names.size() + files_);  // no doubling of a million names
        if (stamps) reserve_huge(*stamps, stamps->size() + files_);
        gather(root, names, stamps, temporaries);
    }

private:
    static constexpr std::size_t stat_chunk = 2048;

    struct Folder {
        std::string disk;    // relative to the dataset, as on disk: "" or "a.d/b.d/"
        std::string prefix;  // its partitions' names start with this: "" or "a/b/"
        int depth = 0;
        std::vector<std::string> keys;  // sorted partition names: "a/b/x" for a file (suffix removed), "a/b/x/" for a folder
        std::vector<Folder*> children;  // for a folder key, its Folder
        std::vector<FileStamp> stamps;  // for a file key, when stat'ing
        std::vector<std::string> temporaries;
    };
    struct Task {
        Folder* folder;
        std::size_t begin = 0, end = 0;  // a stat task's keys; a listing task has none
    };

    void work() {
        for (;;) {
            Task task{};
            {
                std::unique_lock lock(mutex_);
                ready_.wait(lock, [&] { return !queue_.empty() || pending_ == 0; });
                if (queue_.empty()) return;
                task = queue_.back();  // depth first: the newest task, so open folders stay few
                queue_.pop_back();
            }
            try {
                if (!error_flag_.load(std::memory_order_relaxed)) {
                    if (task.end == 0) list(*task.folder);
                    else stat_range(*task.folder, task.begin, task.end);
                }
            } catch (...) {
                std::lock_guard lock(mutex_);
                if (!error_) error_ = std::current_exception();
                error_flag_ = true;
            }
            finish_task();
        }
    }

    void finish_task() {
        std::lock_guard lock(mutex_);
        if (--pending_ == 0 || !queue_.empty()) ready_.notify_all();
    }

    void push(std::vector<Task>& tasks) {
        if (tasks.empty()) return;
        std::lock_guard lock(mutex_);
        pending_ += tasks.size();
        queue_.insert(queue_.end(), tasks.rbegin(), tasks.rend());  // the first is taken first
        ready_.notify_all();
    }

    int open_folder(const Folder& f) const {
        int fd = f.disk.empty() ? ::fcntl(root_fd_, F_DUPFD_CLOEXEC, 0)
                                : ::openat(root_fd_, f.disk.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 && (errno == ELOOP || errno == ENAMETOOLONG)) {
            // More links on the way than one path may cross (40), or a long path: one folder
            // at a time, as deep as the walk allows.
            fd = ::fcntl(root_fd_, F_DUPFD_CLOEXEC, 0);
            for (std::size_t at = 0, slash; fd >= 0 && (slash = f.disk.find('/', at)) != std::string::npos; at = slash + 1) {
                const int next = ::openat(fd, f.disk.substr(at, slash - at).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                const int error = errno;
                ::close(fd);
                fd = next;
                errno = error;
            }
        }
        if (fd < 0) fail(f.disk, errno);
        return fd;
    }

    void list(Folder& f) {
        if (f.depth > 256) {
            // The path of a loop repeats itself 256 times: name where it starts, not all of it.
            std::string start;
            for (std::size_t at = 0, parts = 0; at < f.disk.size() && parts < 3; ++at) {
                start.push_back(f.disk[at]);
                parts += f.disk[at] == '/';
            }
            throw InputError("dataset '" + dataset_.name + "': folders nest more than 256 deep under '" + shown(start) +
                             "...' (a symbolic link loop?); remove the link that points back up");
        }
        const int fd = open_folder(f);
        DIR* dir = ::fdopendir(fd);
        if (!dir) {
            const int error = errno;
            ::close(fd);
            fail(f.disk, error);
        }
        std::unique_ptr<DIR, int (*)(DIR*)> owner(dir, ::closedir);
        // Entries are visited in the order of their names as partition paths continue them (a
        // folder's as "name/"), so the walk yields partitions already in byte order. On disk, a
        // file is the key + suffix, a folder the key without "/" + folder suffix.
        const bool prefix_utf8 = valid_utf8(f.prefix);
        errno = 0;
        while (const dirent* entry = ::readdir(dir)) {
            interruption_point();  // a million entries, or a slow network filesystem
            const std::string_view name = entry->d_name;
            if (name.empty() || name.front() == '.') {  // ".", "..", hidden files and temporaries
                if (temporaries_ && is_temporary_name(name)) f.temporaries.push_back((dataset_.path / f.disk).string() + std::string(name));
                errno = 0;
                continue;
            }
            unsigned char type = entry->d_type;
            if (type == DT_UNKNOWN) {  // the filesystem does not say: a link must still be known as one
                struct stat st {};
                if (::fstatat(fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) type = DT_LNK;
            }
            if (type == DT_LNK) links_ = true;
            if (type == DT_UNKNOWN || type == DT_LNK) {
                struct stat st {};
                if (::fstatat(fd, entry->d_name, &st, 0) != 0) {  // e.g. a dangling link
                    errno = 0;
                    continue;
                }
                type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
            }
            if (type == DT_DIR && ends_with(name, dataset_.folder_suffix))  // else not a folder of an encoded name
                f.keys.push_back(f.prefix + std::string(name.substr(0, name.size() - dataset_.folder_suffix.size())) + "/");
            else if (type == DT_REG && ends_with(name, dataset_.suffix)) {  // else not a partition file
                f.keys.push_back(f.prefix + std::string(name.substr(0, name.size() - dataset_.suffix.size())));
                // Plans and markers are JSON, which holds only UTF-8: such a name could not be recorded.
                if (!prefix_utf8 || !valid_utf8(std::string_view(f.keys.back()).substr(f.prefix.size())))
                    throw InputError("dataset '" + dataset_.name + "': file name '" + shown(f.disk + std::string(name)) +
                                     "' is not valid UTF-8; rename it (partition names are stored in JSON)");
            }
            errno = 0;
        }
        if (errno != 0) fail(f.disk, errno);
        std::sort(f.keys.begin(), f.keys.end());
        f.children.assign(f.keys.size(), nullptr);
        if (stamps_) f.stamps.resize(f.keys.size());
        std::vector<Task> tasks;
        std::size_t files = 0;
        for (std::size_t k = 0; k < f.keys.size(); ++k) {
            const std::string& key = f.keys[k];
            if (key.back() != '/') {
                ++files;
                files_.fetch_add(1, std::memory_order_relaxed);
                continue;
            }
            auto child = std::make_unique<Folder>();
            child->disk = f.disk + key.substr(f.prefix.size(), key.size() - 1 - f.prefix.size()) + dataset_.folder_suffix + "/";
            child->prefix = key;
            child->depth = f.depth + 1;
            f.children[k] = child.get();
            {
                std::lock_guard lock(mutex_);
                folders_.push_back(std::move(child));
            }
            tasks.push_back({f.children[k]});
        }
        if (stamps_ && files > 0) {
            if (files <= stat_chunk) stat_range(f, 0, f.keys.size(), fd);
            else
                for (std::size_t begin = 0; begin < f.keys.size(); begin += stat_chunk)
                    tasks.push_back({&f, begin, std::min(begin + stat_chunk, f.keys.size())});
        }
        push(tasks);
    }

    void stat_range(Folder& f, std::size_t begin, std::size_t end, int fd = -1) {
        const int own = fd < 0 ? open_folder(f) : -1;
        std::string disk;
        for (std::size_t k = begin; k < end; ++k) {
            if ((k & 255) == 0) interruption_point();
            if (f.children[k]) continue;
            disk.assign(f.keys[k], f.prefix.size()).append(dataset_.suffix);
            f.stamps[k] = stamp_at(own >= 0 ? own : fd, disk.c_str());
        }
        if (own >= 0) ::close(own);
    }

    static void gather(Folder& f, std::vector<std::string>& names, std::vector<FileStamp>* stamps, std::vector<std::string>* temporaries) {
        if (temporaries) temporaries->insert(temporaries->end(), f.temporaries.begin(), f.temporaries.end());
        for (std::size_t k = 0; k < f.keys.size(); ++k) {
            if (f.children[k]) {
                gather(*f.children[k], names, stamps, temporaries);
                continue;
            }
            names.push_back(std::move(f.keys[k]));
            if (stamps) stamps->push_back(f.stamps[k]);
        }
        std::vector<std::string>().swap(f.keys);  // a million names are held once, not twice
        std::vector<FileStamp>().swap(f.stamps);
    }

    // A name that is exactly the suffix has nothing left: it is no partition (nor folder).
    static bool ends_with(std::string_view name, std::string_view suffix) {
        return suffix.empty() || (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0);
    }
    std::string shown(const std::string& relative) const { return (dataset_.path / relative).string(); }
    [[noreturn]] void fail(const std::string& relative, int error) const {
        throw StateError("dataset '" + dataset_.name + "': cannot list '" + shown(relative) + "': " + std::strerror(error));
    }

    const Dataset& dataset_;
    const int root_fd_;
    const bool stamps_, temporaries_;
    std::vector<std::unique_ptr<Folder>> folders_;
    std::mutex mutex_;
    std::condition_variable ready_;
    std::vector<Task> queue_;
    std::size_t pending_ = 0;  // tasks queued or running
    std::exception_ptr error_;
    std::atomic<bool> error_flag_{false};
    std::atomic<std::size_t> files_{0};  // partition files found, for reserving the answer

public:
    std::atomic<bool> links_{false};  // a symbolic link was followed
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
    {
        const FdCloser closer{root};
        PartitionWalk(dataset, root, false, false).run(names, nullptr, nullptr);
    }
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
    {
        const FdCloser closer{root};
        PartitionWalk walk(dataset, root, with_stamps, temporaries != nullptr);
        walk.run(scan.names, with_stamps ? &scan.stamps : nullptr, temporaries);
        scan.followed_links = walk.links_;
    }
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

PartitionScan scan_partitions_under(const Dataset& dataset, const std::string& folder) {
    PartitionScan scan;
    const int root = ::open(dataset.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        throw StateError("dataset '" + dataset.name + "': cannot list '" + dataset.path.string() + "': " + std::strerror(errno));
    const FdCloser closer{root};
    PartitionWalk walk(dataset, root, true, false);
    walk.run(scan.names, &scan.stamps, nullptr, folder);
    scan.followed_links = walk.links_;
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
