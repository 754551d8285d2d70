#include "steppar/change_watch.hpp"

#include "steppar/error.hpp"
#include "steppar/hash.hpp"
#include "steppar/text.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <map>
#include <memory>
#include <poll.h>
#include <set>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace steppar {

const char* to_string(WatchBackend backend) {
    switch (backend) {
    case WatchBackend::automatic: return "auto";
    case WatchBackend::fanotify: return "fanotify";
    case WatchBackend::inotify: return "inotify";
    case WatchBackend::poll: return "poll";
    }
    return "auto";
}

WatchBackend parse_watch_backend(const std::string& word) {
    for (const auto b : {WatchBackend::automatic, WatchBackend::fanotify, WatchBackend::inotify, WatchBackend::poll})
        if (word == to_string(b)) return b;
    throw UsageError("unknown --backend '" + word + "'" + suggestion(word, {"auto", "fanotify", "inotify", "poll"}));
}

namespace {

constexpr std::size_t listed_paths = 8;  // paths kept per wait, for the log

// The folder itself when it exists, else its nearest existing parent (where it will appear).
fs::path existing_part(const fs::path& folder) {
    std::error_code ec;
    fs::path at = fs::absolute(folder, ec);
    while (!at.empty() && !fs::is_directory(at, ec) && at != at.root_path()) at = at.parent_path();
    return at.empty() ? fs::path("/") : at;
}

struct Fd {
    int fd = -1;
    explicit Fd(int f = -1) : fd(f) {}
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
};

// Waits for `fd` (or a wake fd) to be readable; true when `fd` is and no wake fd is. `fd` -1:
// only the wake fds (and the timeout).
bool poll_wake(int fd) {
    pollfd p{fd, POLLIN, 0};
    return fd >= 0 && ::poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

bool readable(int fd, WakeFds wake, std::chrono::milliseconds timeout) {
    pollfd fds[3] = {{fd, POLLIN, 0}, {wake.first, POLLIN, 0}, {wake.second, POLLIN, 0}};
    const int ready = ::poll(fds, 3, static_cast<int>(std::min<std::chrono::milliseconds::rep>(timeout.count(), 1 << 30)));
    if (ready <= 0) return false;
    if ((fds[1].revents & POLLIN) || (fds[2].revents & POLLIN)) return false;
    return (fds[0].revents & POLLIN) != 0;
}

// A changed path: one that asks for a run (in a watched folder), or only one to list
// (`followed`: in a folder a run writes).
void note(Changes& c, std::string path, bool followed = false) {
    if (!followed) {
        ++c.events;
        if (c.paths.size() < listed_paths) c.paths.push_back(path);
    }
    if (c.changed.size() < Changes::max_changed) c.changed.push_back(std::move(path));
    else c.complete = false;
}

// Where a path is: under a watched folder (or one of them itself), under a followed one, or
// neither.
enum class Place { elsewhere, watched, followed };
Place place_of(const std::string& path, const std::vector<fs::path>& watched, const std::vector<fs::path>& followed) {
    for (const auto& root : watched)
        if (path == root.native() || path.rfind(root.native() + "/", 0) == 0) return Place::watched;
    for (const auto& root : followed)
        if (path == root.native() || path.rfind(root.native() + "/", 0) == 0) return Place::followed;
    return Place::elsewhere;
}

}  // namespace

void Changes::merge(Changes&& more) {
    events += more.events;
    for (auto& p : more.paths)
        if (paths.size() < listed_paths) paths.push_back(std::move(p));
    if (more.lost && !lost) {
        lost = true;
        why_lost = std::move(more.why_lost);
    }
    complete = complete && more.complete && !more.lost;
    for (auto& p : more.changed) {
        if (changed.size() < max_changed) changed.push_back(std::move(p));
        else complete = false;
    }
}

namespace {

// ---- inotify: a watch per folder -------------------------------------------------------------

class InotifySource : public ChangeSource {
public:
    InotifySource(const std::vector<fs::path>& folders, const std::vector<fs::path>& followed)
        : fd_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
        if (fd_.fd < 0) throw UsageError(std::string("inotify is not available here: ") + std::strerror(errno));
        for (const auto& f : folders) roots_.push_back(fs::absolute(f));
        for (const auto& f : followed) followed_.push_back(fs::absolute(f));
        setup();
    }

    Changes wait(std::chrono::milliseconds timeout, WakeFds wake) override {
        Changes changes;
        if (!readable(fd_.fd, wake, timeout)) return changes;
        alignas(inotify_event) char buffer[64 * 1024];
        for (;;) {
            const ssize_t n = ::read(fd_.fd, buffer, sizeof buffer);
            if (n <= 0) break;
            for (char* at = buffer; at < buffer + n;) {
                const auto* event = reinterpret_cast<const inotify_event*>(at);
                at += sizeof(inotify_event) + event->len;
                take(*event, changes);
            }
        }
        // Watches again from scratch: what went away, what came back. Events meanwhile are not
        // told: the list of changes is not complete.
        if (changes.lost || renew_) {
            setup();
            renew_ = false;
            changes.complete = false;
        }
        return changes;
    }

    WatchBackend backend() const override { return WatchBackend::inotify; }
    std::string describe() const override { return "inotify, " + count_text(folders_.size()) + " folder(s) watched"; }

private:
    static constexpr std::uint32_t mask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE | IN_MODIFY |
                                          IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK;

    void setup() {
        for (const auto& [wd, path] : folders_) ::inotify_rm_watch(fd_.fd, wd);
        folders_.clear();
        seen_.clear();
        for (const auto* roots : {&roots_, &followed_})
            for (const auto& root : *roots) {
                const fs::path start = existing_part(root);
                if (start == root) add_tree(root);
                else add(start);  // only to see the folder appear
            }
    }

    // Watches `folder` and every folder under it (symbolic links to folders followed once).
    void add_tree(const fs::path& folder) {
        if (!add(folder)) return;
        DIR* dir = ::opendir(folder.c_str());
        if (!dir) return;
        std::unique_ptr<DIR, int (*)(DIR*)> owner(dir, ::closedir);
        while (const dirent* entry = ::readdir(dir)) {
            if (entry->d_name[0] == '.') continue;
            if (entry->d_type != DT_DIR && entry->d_type != DT_LNK && entry->d_type != DT_UNKNOWN) continue;
            struct stat st {};
            if (::fstatat(::dirfd(dir), entry->d_name, &st, 0) == 0 && S_ISDIR(st.st_mode)) add_tree(folder / entry->d_name);
        }
    }

    bool add(const fs::path& folder) {
        struct stat st {};
        if (::stat(folder.c_str(), &st) != 0 || !seen_.insert({st.st_dev, st.st_ino}).second) return false;  // a loop
        const int wd = ::inotify_add_watch(fd_.fd, folder.c_str(), mask);
        if (wd < 0) {
            if (errno == ENOSPC)
                throw UsageError("inotify: out of watches at '" + folder.string() + "' (" + count_text(folders_.size()) +
                                 " folders watched; raise /proc/sys/fs/inotify/max_user_watches, or use --backend fanotify or poll)");
            return false;  // gone meanwhile: its parent's event says so
        }
        folders_[wd] = folder;
        return true;
    }

    void take(const inotify_event& event, Changes& changes) {
        if (event.mask & IN_Q_OVERFLOW) {
            changes.lost = true;
            changes.why_lost = "the kernel's event queue overflowed";
            ++changes.events;
            return;
        }
        const auto it = folders_.find(event.wd);
        if (it == folders_.end()) return;
        const fs::path folder = it->second;
        if (event.mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) {
            // A watched folder went away (or moved): a root of them means watching anew.
            const bool root = std::find(roots_.begin(), roots_.end(), folder) != roots_.end();
            const bool followed_root = std::find(followed_.begin(), followed_.end(), folder) != followed_.end();
            if (root || followed_root || !(event.mask & IN_IGNORED)) {
                changes.lost = changes.lost || root;
                if (changes.lost && changes.why_lost.empty()) changes.why_lost = "the watched folder '" + folder.string() + "' went away";
                renew_ = renew_ || followed_root;
                const Place where = place_of(folder.string(), roots_, followed_);
                if (where != Place::elsewhere) note(changes, folder.string(), where == Place::followed);
            }
            if (event.mask & IN_IGNORED) folders_.erase(event.wd);
            return;
        }
        const std::string name = event.len ? event.name : "";
        const fs::path path = name.empty() ? folder : folder / name;
        // A folder renamed keeps its watches, which must now name it (and what it holds) anew.
        if ((event.mask & IN_ISDIR) && (event.mask & IN_MOVED_FROM)) moved_from_[event.cookie] = path;
        if ((event.mask & IN_ISDIR) && (event.mask & IN_MOVED_TO))
            if (const auto from = moved_from_.find(event.cookie); from != moved_from_.end()) {
                rename_watched(from->second, path);
                moved_from_.erase(from);
            }
        if (!name.empty() && name.front() == '.') return;  // hidden: never a partition (and steppar's temporaries)
        const bool root_appeared = std::find(roots_.begin(), roots_.end(), path) != roots_.end();
        if ((event.mask & IN_ISDIR) && (event.mask & (IN_CREATE | IN_MOVED_TO))) add_tree(path);  // and what it holds already
        // A folder watched only to see a root appear: only that root's path counts.
        const Place where = place_of(path.string(), roots_, followed_);
        if (where == Place::elsewhere) return;
        if (root_appeared) {
            changes.lost = true;  // everything under it is new
            changes.why_lost = "the watched folder '" + path.string() + "' appeared";
        }
        // A followed folder that appeared: what was written in it before its watch was added is not told.
        if (std::find(followed_.begin(), followed_.end(), path) != followed_.end()) changes.complete = false;
        note(changes, path.string(), where == Place::followed);
    }

    void rename_watched(const fs::path& from, const fs::path& to) {
        const std::string old = from.native();
        for (auto& [wd, folder] : folders_)
            if (folder.native() == old || folder.native().rfind(old + "/", 0) == 0) folder = to.native() + folder.native().substr(old.size());
    }

    Fd fd_;
    std::vector<fs::path> roots_, followed_;
    std::map<std::uint32_t, fs::path> moved_from_;  // a folder's IN_MOVED_FROM, by cookie, until its IN_MOVED_TO
    bool renew_ = false;  // a followed folder went away: watch anew
    std::map<int, fs::path> folders_;
    std::set<std::pair<dev_t, ino_t>> seen_;
};

// ---- fanotify: one mark per filesystem -------------------------------------------------------

class FanotifySource : public ChangeSource {
public:
    FanotifySource(const std::vector<fs::path>& folders, const std::vector<fs::path>& followed)
        : fd_(::fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_DFID_NAME, O_RDONLY | O_CLOEXEC)) {
        if (fd_.fd < 0)
            throw UsageError(std::string("fanotify is not available here: ") + std::strerror(errno) +
                             (errno == EPERM ? " (it needs CAP_SYS_ADMIN: run as root)" : ""));
        std::set<dev_t> marked;
        std::vector<fs::path> all = folders;
        all.insert(all.end(), followed.begin(), followed.end());
        for (std::size_t i = 0; i < all.size(); ++i) {
            const fs::path& f = all[i];
            std::error_code ec;
            fs::path root = fs::weakly_canonical(fs::absolute(f), ec);
            if (ec) root = fs::absolute(f);
            (i < folders.size() ? roots_ : followed_).push_back(root);
            const fs::path start = existing_part(root);
            struct stat st {};
            if (::stat(start.c_str(), &st) != 0 || !marked.insert(st.st_dev).second) continue;
            const std::uint64_t events =
                FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO | FAN_MODIFY | FAN_CLOSE_WRITE | FAN_ATTRIB | FAN_ONDIR;
            if (::fanotify_mark(fd_.fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, events, AT_FDCWD, start.c_str()) != 0)
                throw UsageError("fanotify cannot watch the filesystem of '" + start.string() + "': " + std::strerror(errno) +
                                 (errno == EXDEV || errno == EOPNOTSUPP || errno == ENODEV ? " (it does not report file ids)" : ""));
            mounts_.emplace(st.st_dev, std::make_unique<Fd>(::open(start.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)));
        }
    }

    Changes wait(std::chrono::milliseconds timeout, WakeFds wake) override {
        Changes changes;
        if (!readable(fd_.fd, wake, timeout)) return changes;
        alignas(fanotify_event_metadata) char buffer[64 * 1024];
        for (;;) {
            const ssize_t n = ::read(fd_.fd, buffer, sizeof buffer);
            if (n <= 0) break;
            // Events with name records are aligned to 4 bytes only (FANOTIFY_EVENT_ALIGN), so
            // each header is copied out rather than read in place.
            for (ssize_t at = 0; at + static_cast<ssize_t>(sizeof(fanotify_event_metadata)) <= n;) {
                fanotify_event_metadata event;
                std::memcpy(&event, buffer + at, sizeof event);
                if (event.event_len < sizeof event || at + static_cast<ssize_t>(event.event_len) > n) break;
                if (event.fd >= 0) ::close(event.fd);
                if (event.mask & FAN_Q_OVERFLOW) {
                    changes.lost = true;
                    changes.why_lost = "the kernel's event queue overflowed";
                    ++changes.events;
                } else {
                    take(event, buffer + at, changes);
                }
                at += event.event_len;
            }
        }
        return changes;
    }

    WatchBackend backend() const override { return WatchBackend::fanotify; }
    std::string describe() const override {
        return "fanotify, " + count_text(mounts_.size()) + " filesystem(s) marked, " + count_text(roots_.size()) + " folder(s) followed";
    }

private:
    // `raw` is the event's bytes in the read buffer (its info records are 4-byte types).
    void take(const fanotify_event_metadata& event, const char* raw, Changes& changes) {
        const char* at = raw + event.metadata_len;
        const char* end = raw + event.event_len;
        while (at + sizeof(fanotify_event_info_header) <= end) {
            const auto* header = reinterpret_cast<const fanotify_event_info_header*>(at);
            if (header->len == 0) break;
            if (header->info_type == FAN_EVENT_INFO_TYPE_DFID_NAME || header->info_type == FAN_EVENT_INFO_TYPE_DFID) {
                const auto* info = reinterpret_cast<const fanotify_event_info_fid*>(at);
                const auto* handle = reinterpret_cast<const file_handle*>(info->handle);
                const char* name = header->info_type == FAN_EVENT_INFO_TYPE_DFID_NAME
                                       ? reinterpret_cast<const char*>(handle->f_handle) + handle->handle_bytes
                                       : "";
                if (name[0] == '.') return;  // hidden: never a partition (and steppar's temporaries)
                const std::string folder = folder_of(*handle);
                const std::string path = folder.empty() ? std::string() : name[0] ? folder + "/" + name : folder;
                // A folder already gone: if it was under a root, its removal is an event of
                // its parent, which is counted; on its own it says nothing.
                if (path.empty()) return;
                for (const auto& root : roots_) {
                    const bool inside = path == root.native() || path.rfind(root.native() + "/", 0) == 0;
                    const bool above = root.native().rfind(path + "/", 0) == 0;  // a folder on the way to a root
                    if (!inside && !above) continue;
                    if ((path == root.native() || above) && (event.mask & FAN_ONDIR) &&
                        (event.mask & (FAN_CREATE | FAN_MOVED_TO | FAN_DELETE | FAN_MOVED_FROM))) {
                        changes.lost = true;  // everything under the root is new, or gone
                        changes.why_lost = "the watched folder '" + root.string() + "' appeared or went away";
                    }
                    if (inside || changes.lost) note(changes, path);
                    forget_folders(event);
                    return;
                }
                for (const auto& root : followed_) {
                    const bool inside = path == root.native() || path.rfind(root.native() + "/", 0) == 0;
                    const bool above = root.native().rfind(path + "/", 0) == 0;
                    if (inside) note(changes, path, true);
                    else if (above && (event.mask & FAN_ONDIR)) note(changes, root.string(), true);  // a folder on its way came or went: all of it
                    if (inside || above) break;
                }
                forget_folders(event);
                return;
            }
            at += header->len;
        }
    }

    // A folder renamed or removed keeps its handle: the paths remembered for handles may be wrong now.
    void forget_folders(const fanotify_event_metadata& event) {
        if ((event.mask & FAN_ONDIR) && (event.mask & (FAN_MOVED_FROM | FAN_MOVED_TO | FAN_DELETE))) cache_.clear();
    }

    // The folder a file handle names now ("" when it is gone), through a descriptor of it.
    std::string folder_of(const file_handle& handle) {
        const std::string key(reinterpret_cast<const char*>(&handle), sizeof(file_handle) + handle.handle_bytes);
        if (const auto it = cache_.find(key); it != cache_.end()) return it->second;
        for (const auto& [dev, mount] : mounts_) {
            const int fd = ::open_by_handle_at(mount->fd, const_cast<file_handle*>(&handle), O_PATH | O_CLOEXEC);
            if (fd < 0) continue;
            char link[64];
            std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
            char target[4096];
            const ssize_t n = ::readlink(link, target, sizeof target - 1);
            ::close(fd);
            if (n <= 0) continue;
            std::string folder(target, static_cast<std::size_t>(n));
            if (cache_.size() > 100000) cache_.clear();
            return cache_[key] = folder;
        }
        return {};
    }

    Fd fd_;
    std::vector<fs::path> roots_, followed_;
    std::map<dev_t, std::unique_ptr<Fd>> mounts_;
    std::map<std::string, std::string> cache_;
};

// ---- poll: walk and compare ------------------------------------------------------------------

class PollSource : public ChangeSource {
public:
    PollSource(const std::vector<fs::path>& folders, std::chrono::milliseconds interval) : interval_(interval) {
        for (const auto& f : folders) roots_.push_back(fs::absolute(f));
        last_ = signature();
    }

    Changes wait(std::chrono::milliseconds timeout, WakeFds wake) override {
        Changes changes;
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            const auto now = std::chrono::steady_clock::now();
            const auto step = std::min(interval_, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
            if (step.count() > 0) {
                readable(-1, wake, step);  // sleeps the step, or less when a wake fd is readable
                if (poll_wake(wake.first) || poll_wake(wake.second)) return changes;
            }
            std::string now_signature = signature();
            if (now_signature != last_) {
                last_ = std::move(now_signature);
                note(changes, "(a difference found by polling)");
                changes.complete = false;  // polling does not say which paths
                return changes;
            }
            if (std::chrono::steady_clock::now() >= deadline) return changes;
        }
    }

    WatchBackend backend() const override { return WatchBackend::poll; }
    std::string describe() const override {
        return "poll every " + std::to_string(interval_.count()) + " ms, " + count_text(roots_.size()) + " folder(s)";
    }

private:
    // A digest of every name, size, mtime and ctime under the folders.
    std::string signature() const {
        Sha256 digest;
        std::set<std::pair<dev_t, ino_t>> seen;
        for (const auto& root : roots_) {
            digest.update(root.string() + "\n");
            walk(root, digest, seen);
        }
        return digest.hex();
    }

    static void walk(const fs::path& folder, Sha256& digest, std::set<std::pair<dev_t, ino_t>>& seen) {
        DIR* dir = ::opendir(folder.c_str());
        if (!dir) return;
        std::unique_ptr<DIR, int (*)(DIR*)> owner(dir, ::closedir);
        std::vector<std::string> names;
        while (const dirent* entry = ::readdir(dir))
            if (entry->d_name[0] != '.') names.emplace_back(entry->d_name);
        std::sort(names.begin(), names.end());
        for (const auto& name : names) {
            struct stat st {};
            if (::fstatat(::dirfd(dir), name.c_str(), &st, 0) != 0) continue;
            char line[160];
            std::snprintf(line, sizeof line, " %lld %lld.%09ld %lld.%09ld %o\n", static_cast<long long>(st.st_size),
                          static_cast<long long>(st.st_mtim.tv_sec), st.st_mtim.tv_nsec, static_cast<long long>(st.st_ctim.tv_sec),
                          st.st_ctim.tv_nsec, st.st_mode);
            digest.update(name);
            digest.update(line);
            if (S_ISDIR(st.st_mode) && seen.insert({st.st_dev, st.st_ino}).second) walk(folder / name, digest, seen);
        }
    }

    std::chrono::milliseconds interval_;
    std::vector<fs::path> roots_;
    std::string last_;
};

}  // namespace

std::unique_ptr<ChangeSource> open_change_source(const std::vector<fs::path>& folders, const std::vector<fs::path>& followed,
                                                 WatchBackend backend, std::chrono::milliseconds poll_interval, std::string* fallback) {
    switch (backend) {
    case WatchBackend::fanotify: return std::make_unique<FanotifySource>(folders, followed);
    case WatchBackend::inotify: return std::make_unique<InotifySource>(folders, followed);
    case WatchBackend::poll: return std::make_unique<PollSource>(folders, poll_interval);
    case WatchBackend::automatic: break;
    }
    std::string why;
    try {
        return std::make_unique<FanotifySource>(folders, followed);
    } catch (const UsageError& e) {
        why = e.what();
    }
    try {
        auto source = std::make_unique<InotifySource>(folders, followed);
        if (fallback) *fallback = why;
        return source;
    } catch (const UsageError& e) {
        why += std::string("; ") + e.what();
    }
    if (fallback) *fallback = why;
    return std::make_unique<PollSource>(folders, poll_interval);
}

}  // namespace steppar
