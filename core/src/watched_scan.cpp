#include "steppar/watched_scan.hpp"

#include "steppar/atomic_file.hpp"
#include "steppar/error.hpp"
#include "steppar/files.hpp"
#include "steppar/log.hpp"
#include "steppar/stamp.hpp"
#include "steppar/text.hpp"

#include <xxhash.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/statfs.h>

namespace fs = std::filesystem;

namespace steppar {

namespace {

constexpr std::string_view window_header = "steppar-watch-window 1\n";
constexpr std::string_view scan_header = "steppar-scan 1\n";

// ---- the kept scan: a base, a delta over it, and a token file --------------------------------
//
// The base (names and stamps, with a checksum) is rewritten only when the delta over it grows
// large; the delta (the partitions changed or gone since the base) when a run saw changes; the
// token file, small, at every run: "<token>\t<base id>\t<delta checksum or ->\n". Files written
// by two runs at once do not pair (the ids differ), so they are trusted only as one run wrote them.

// A change to a kept scan: a partition's stamp now, or nothing (it is gone).
using Effects = std::map<std::string, std::optional<FileStamp>>;

void put64(std::string& out, std::uint64_t v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); }
bool get64(std::string_view& in, std::uint64_t& v) {
    if (in.size() < sizeof v) return false;
    std::memcpy(&v, in.data(), sizeof v);
    in.remove_prefix(sizeof v);
    return true;
}
void put_stamp(std::string& out, const FileStamp& s) {
    put64(out, static_cast<std::uint64_t>(s.size));
    put64(out, static_cast<std::uint64_t>(s.mtime_ns));
    put64(out, static_cast<std::uint64_t>(s.ctime_ns));
}
bool get_stamp(std::string_view& in, FileStamp& s) {
    std::uint64_t v[3];
    if (!get64(in, v[0]) || !get64(in, v[1]) || !get64(in, v[2])) return false;
    s = {static_cast<std::int64_t>(v[0]), static_cast<std::int64_t>(v[1]), static_cast<std::int64_t>(v[2])};
    return true;
}
bool get_name(std::string_view& in, std::string_view& name) {
    std::uint64_t size = 0;
    if (!get64(in, size) || in.size() < size) return false;
    name = in.substr(0, size);
    in.remove_prefix(size);
    return true;
}

std::string hex(std::uint64_t v) {
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(v));
    return text;
}

// A file mapped read-only (a base of a million partitions is read once, not copied).
class Mapped {
public:
    explicit Mapped(const fs::path& path) {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return;
        struct stat st {};
        if (::fstat(fd, &st) == 0 && st.st_size > 0) {
            // Populated at once: read once and whole, page by page faults would cost more than the reading.
            void* at = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
            if (at != MAP_FAILED) {
                ::madvise(at, static_cast<std::size_t>(st.st_size), MADV_SEQUENTIAL);
                data_ = static_cast<const char*>(at);
                size_ = static_cast<std::size_t>(st.st_size);
            }
        }
        ::close(fd);
    }
    ~Mapped() {
        if (data_) ::munmap(const_cast<char*>(data_), size_);
    }
    Mapped(const Mapped&) = delete;
    Mapped& operator=(const Mapped&) = delete;
    std::string_view text() const { return {data_ ? data_ : "", size_}; }

private:
    const char* data_ = nullptr;
    std::size_t size_ = 0;
};

// The text between a header and a trailing checksum of everything before it; false when the
// checksum fails.
bool checked_body(std::string_view text, std::string_view header, std::string_view& body, std::uint64_t* sum = nullptr) {
    if (text.size() < header.size() + 8 || text.substr(0, header.size()) != header) return false;
    std::uint64_t stored = 0;
    std::memcpy(&stored, text.data() + text.size() - 8, 8);
    if (stored != XXH3_64bits(text.data(), text.size() - 8)) return false;
    if (sum) *sum = stored;
    body = text.substr(header.size(), text.size() - header.size() - 8);
    return true;
}

constexpr std::string_view delta_header = "steppar-scan-delta 1\n";

struct Kept {
    std::unique_ptr<Mapped> base;  // its entries: `entries`, `base_count` of them
    std::string_view entries;
    std::uint64_t base_id = 0;
    std::size_t base_count = 0;
    Effects delta;                  // over the base
    std::string delta_sum = "-";    // as the token file gives it
};

// What a kept scan's files say, when they pair and one of `tokens` wrote them.
std::optional<Kept> read_kept(const fs::path& base, const fs::path& delta, const fs::path& token_file, const std::vector<std::string>& tokens) {
    Kept kept;
    try {
        std::error_code ec;
        if (!fs::exists(token_file, ec)) return std::nullopt;
        const std::string token_text = read_file(token_file);
        std::string_view fields[3];
        std::string_view rest(token_text);
        if (rest.empty() || rest.back() != '\n') return std::nullopt;
        rest.remove_suffix(1);
        for (auto& f : fields) {
            const auto tab = rest.find('\t');
            f = rest.substr(0, tab);
            rest = tab == std::string_view::npos ? std::string_view() : rest.substr(tab + 1);
        }
        if (std::find(tokens.begin(), tokens.end(), fields[0]) == tokens.end()) return std::nullopt;

        kept.base = std::make_unique<Mapped>(base);
        std::string_view in;
        std::uint64_t count = 0;
        if (!checked_body(kept.base->text(), scan_header, in) || !get64(in, kept.base_id) || hex(kept.base_id) != fields[1] || !get64(in, count))
            return std::nullopt;
        kept.entries = in;  // checked entry by entry as they are read
        kept.base_count = count;
        if (fields[2] != "-") {
            const std::string text = read_file(delta);
            std::uint64_t sum = 0;
            if (!checked_body(text, delta_header, in, &sum) || hex(sum) != fields[2] || !get64(in, count)) return std::nullopt;
            for (std::uint64_t i = 0; i < count; ++i) {
                std::string_view name;
                FileStamp stamp;
                if (in.empty()) return std::nullopt;
                const char kind = in.front();
                in.remove_prefix(1);
                if (!get_name(in, name) || (kind == '+' && !get_stamp(in, stamp))) return std::nullopt;
                kept.delta[std::string(name)] = kind == '+' ? std::optional<FileStamp>(stamp) : std::nullopt;
            }
            if (!in.empty()) return std::nullopt;
            kept.delta_sum = std::string(fields[2]);
        }
    } catch (const Error&) {
        return std::nullopt;  // unreadable: a walk instead
    }
    return kept;
}

std::uint64_t new_id() {
    std::random_device random;
    return (static_cast<std::uint64_t>(random()) << 32) ^ random();
}

void write_with_sum(const fs::path& file, std::string& text) {
    put64(text, XXH3_64bits(text.data(), text.size()));
    AtomicFile out(file);
    out.stream().write(text.data(), static_cast<std::streamsize>(text.size()));
    out.commit();  // not durable: a file lost in a power cut is a walk at the next run
}

void write_base(const fs::path& base, const PartitionScan& scan, std::uint64_t id) {
    std::string text(scan_header);
    std::size_t bytes = 0;
    for (const auto& n : scan.names) bytes += n.size() + 32;
    text.reserve(text.size() + 32 + bytes);
    put64(text, id);
    put64(text, scan.names.size());
    for (std::size_t i = 0; i < scan.names.size(); ++i) {
        put64(text, scan.names[i].size());
        text += scan.names[i];
        put_stamp(text, scan.stamps[i]);
    }
    write_with_sum(base, text);
}

// Writes the delta; returns its checksum's text for the token file.
std::string write_delta(const fs::path& delta, const Effects& effects) {
    std::string text(delta_header);
    put64(text, effects.size());
    for (const auto& [name, stamp] : effects) {
        text.push_back(stamp ? '+' : '-');
        put64(text, name.size());
        text += name;
        if (stamp) put_stamp(text, *stamp);
    }
    write_with_sum(delta, text);
    std::uint64_t sum = 0;
    std::memcpy(&sum, text.data() + text.size() - 8, 8);
    return hex(sum);
}

void write_token(const fs::path& token_file, const std::string& token, std::uint64_t base_id, const std::string& delta_sum) {
    AtomicFile out(token_file);
    out.stream() << token << '\t' << hex(base_id) << '\t' << delta_sum << '\n';
    out.commit();
}

// ---- the window -------------------------------------------------------------------------------

const WatchWindow* current_window() {
    static const std::optional<WatchWindow> window = []() -> std::optional<WatchWindow> {
        const char* file = std::getenv(watch_window_variable);
        if (!file || !*file) return std::nullopt;
        try {
            return read_watch_window(file);
        } catch (const Error& e) {
            warn(std::string(e.what()) + ": every folder is walked");
            return std::nullopt;
        }
    }();
    return window ? &*window : nullptr;
}

bool starts_with(std::string_view text, std::string_view prefix) { return text.compare(0, prefix.size(), prefix) == 0; }

bool ends_with_suffix(std::string_view name, std::string_view suffix) {  // as the walk reads a file name
    return suffix.empty() || (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0);
}

// Whether a relative path has a part the walk skips: empty, or hidden (".x", and temporaries).
bool hidden(std::string_view rel) {
    for (std::size_t at = 0;;) {
        const auto slash = rel.find('/', at);
        const std::string_view part = rel.substr(at, slash == std::string_view::npos ? std::string_view::npos : slash - at);
        if (part.empty() || part.front() == '.') return true;
        if (slash == std::string_view::npos) return false;
        at = slash + 1;
    }
}

// Why the kernel's events cannot stand for a walk of this dataset ("" when they can).
std::string untrusted(const Dataset& d) {
    if (!d.partitioned() || d.intermediate || !d.folder_suffix.empty()) return "not a folder of the catalog";
    std::error_code ec;
    const fs::path real = fs::weakly_canonical(d.path, ec);
    if (ec || real != d.path) return "its path is not its real path";
    struct statfs st {};
    if (::statfs(d.path.c_str(), &st) == 0 && is_network_filesystem(static_cast<long>(st.f_type))) return "a network filesystem";
    return {};
}

// What the window's paths say now: partitions found (with stamps), and names and folders whose
// kept partitions are gone unless found again. nullopt when they cannot stand for a walk.
struct Patch {
    std::map<std::string, FileStamp> found;
    std::vector<std::string> gone_names;    // sorted
    std::vector<std::string> gone_folders;  // "a/b/", sorted, none inside another
};

std::optional<Patch> look_again(const Dataset& d, const std::vector<std::string>& paths) {
    const std::string root = d.path.native();
    Patch patch;
    std::vector<std::string> folders;
    const auto forget = [&](const std::string& rel) {
        folders.push_back(rel + "/");
        if (ends_with_suffix(rel.substr(rel.rfind('/') + 1), d.suffix)) patch.gone_names.push_back(rel.substr(0, rel.size() - d.suffix.size()));
    };
    std::string walked;  // the last folder walked again: paths under it are in its walk
    for (const auto& path : paths) {
        if (path == root) return std::nullopt;  // the folder itself came or went
        if (!starts_with(path, root + "/")) continue;
        const std::string rel = path.substr(root.size() + 1);
        if (!walked.empty() && starts_with(rel, walked)) continue;
        if (hidden(rel)) continue;  // never a partition, nor under one
        struct stat st {};
        if (::lstat(path.c_str(), &st) != 0) {
            if (errno != ENOENT && errno != ENOTDIR) return std::nullopt;
            forget(rel);
            continue;
        }
        if (S_ISLNK(st.st_mode)) return std::nullopt;
        forget(rel);
        if (S_ISDIR(st.st_mode)) {
            PartitionScan under = scan_partitions_under(d, rel);
            if (under.followed_links) return std::nullopt;
            for (std::size_t i = 0; i < under.names.size(); ++i) patch.found[std::move(under.names[i])] = under.stamps[i];
            walked = rel + "/";
        } else if (S_ISREG(st.st_mode) && ends_with_suffix(rel.substr(rel.rfind('/') + 1), d.suffix)) {
            std::string name = rel.substr(0, rel.size() - d.suffix.size());
            if (!valid_utf8(name))
                throw InputError("dataset '" + d.name + "': file name '" + path + "' is not valid UTF-8; rename it (partition names are stored in JSON)");
            patch.found[std::move(name)] = stamp_of(path);
        }
    }
    std::sort(patch.gone_names.begin(), patch.gone_names.end());
    std::sort(folders.begin(), folders.end());
    for (auto& f : folders)  // one inside another is covered by it
        if (patch.gone_folders.empty() || !starts_with(f, patch.gone_folders.back())) patch.gone_folders.push_back(std::move(f));
    return patch;
}

// The kept scan (the base's entries with the delta over them) with the patch applied, built
// in one pass over the three, each name made once. `effects` gets what the patch changed in
// the kept scan. nullopt when the base's entries do not read as `count` entries.
std::optional<PartitionScan> merged(std::string_view entries, std::size_t count, const Effects& delta, const Patch& patch, Effects& effects) {
    const bool removals = !patch.gone_names.empty() || !patch.gone_folders.empty();
    const auto is_gone = [&](std::string_view name) {
        if (std::binary_search(patch.gone_names.begin(), patch.gone_names.end(), name, std::less<>())) return true;
        const auto it = std::upper_bound(patch.gone_folders.begin(), patch.gone_folders.end(), name, std::less<>());
        return it != patch.gone_folders.begin() && starts_with(name, *(it - 1));
    };
    PartitionScan out;
    reserve_huge(out.names, count + delta.size() + patch.found.size());
    reserve_huge(out.stamps, count + delta.size() + patch.found.size());
    std::size_t read = 0;
    std::string_view base_name;
    FileStamp base_stamp;
    bool base_ok = true;
    const auto next_base = [&] {
        if (read == count) return false;
        ++read;
        base_ok = get_name(entries, base_name) && get_stamp(entries, base_stamp);
        return base_ok;
    };
    bool have_base = next_base();
    auto d = delta.begin();
    auto f = patch.found.begin();
    for (;;) {
        // The smallest name of the three.
        std::string_view name;
        bool any = false;
        const auto consider = [&](bool has, std::string_view candidate) {
            if (has && (!any || candidate < name)) name = candidate, any = true;
        };
        consider(have_base, base_name);
        consider(d != delta.end(), d != delta.end() ? std::string_view(d->first) : std::string_view());
        consider(f != patch.found.end(), f != patch.found.end() ? std::string_view(f->first) : std::string_view());
        if (!any) break;
        std::optional<FileStamp> before;
        const bool in_base = have_base && base_name == name;
        const bool in_delta = d != delta.end() && d->first == name;
        if (in_delta) before = d->second;
        else if (in_base) before = base_stamp;
        std::optional<FileStamp> now = before;
        const bool found = f != patch.found.end() && f->first == name;
        if (found) now = f->second;
        else if (removals && now && is_gone(name)) now.reset();
        if (now != before) effects[std::string(name)] = now;
        if (now) {
            out.names.emplace_back(name);
            out.stamps.push_back(*now);
        }
        if (in_base) have_base = next_base();
        if (!base_ok) return std::nullopt;
        if (in_delta) ++d;
        if (found) ++f;
    }
    if (read != count || !entries.empty()) return std::nullopt;
    return out;
}

}  // namespace

fs::path watch_dir(const fs::path& state_root) { return state_root / "watch"; }

void write_watch_window(const fs::path& file, const WatchWindow& window) {
    std::string text(window_header);
    text += "token\t" + window.token + "\nsince\t" + window.since + "\n";
    for (const auto& p : window.paths) {
        append_tsv_escaped(text, p);
        text.push_back('\n');
    }
    text += "end\n";
    fs::create_directories(file.parent_path());
    AtomicFile out(file);
    out.stream() << text;
    out.commit();
}

WatchWindow read_watch_window(const fs::path& file) {
    const std::string text = read_file(file);
    WatchWindow w;
    bool ended = false;
    std::size_t line_number = 0;
    for (std::size_t start = 0, end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
        const std::string_view line = std::string_view(text).substr(start, end - start);
        ++line_number;
        if (line_number == 1) continue;
        if (line_number == 2 && starts_with(line, "token\t")) w.token = line.substr(6);
        else if (line_number == 3 && starts_with(line, "since\t")) w.since = line.substr(6);
        else if (line == "end") ended = true;
        else if (line_number > 3 && !ended) w.paths.push_back(tsv_unescaped(line));
    }
    if (!starts_with(text, window_header) || w.token.empty() || !ended)
        throw StateError("watch window '" + file.string() + "' is damaged");
    std::sort(w.paths.begin(), w.paths.end());
    w.paths.erase(std::unique(w.paths.begin(), w.paths.end()), w.paths.end());
    return w;
}

PartitionScan scan_watched(const Dataset& dataset, bool missing_ok, std::vector<std::string>* temporaries) {
    const WatchWindow* window = current_window();
    if (!window) return scan_partitions(dataset, missing_ok, temporaries);
    return scan_watched(dataset, *window, fs::path(std::getenv(watch_window_variable)).parent_path() / "scans", missing_ok, temporaries);
}

PartitionScan scan_watched(const Dataset& dataset, const WatchWindow& window, const fs::path& dir, bool missing_ok,
                           std::vector<std::string>* temporaries) {
    if (!untrusted(dataset).empty()) return scan_partitions(dataset, missing_ok, temporaries);
    const std::string key = hex(XXH3_64bits(dataset.path.c_str(), dataset.path.native().size())) + "-" + hex(XXH3_64bits(dataset.suffix.data(), dataset.suffix.size()));
    const fs::path base = dir / (key + ".scan"), delta = dir / (key + ".delta"), token_file = dir / (key + ".token");
    std::error_code ec;
    fs::create_directories(dir, ec);
    // Keeps `scan` for the next run: as a new base (no `delta`), or as the base `base_id` with
    // `delta` over it, written unless `delta_sum` (not empty) says it is on disk already.
    const auto keep = [&](const PartitionScan& scan, std::uint64_t base_id, const Effects* delta_over, std::string delta_sum) {
        try {
            if (!delta_over) {
                base_id = new_id();
                write_base(base, scan, base_id);
                delta_sum = "-";
            } else if (delta_sum.empty()) {
                delta_sum = delta_over->empty() ? "-" : write_delta(delta, *delta_over);
            }
            write_token(token_file, window.token, base_id, delta_sum);
        } catch (const Error& e) {
            warn(std::string(e.what()) + ": the next run walks '" + dataset.path.string() + "'");
            fs::remove(token_file, ec);
        }
    };

    // The kept scan of the run before (or of this run: another unit reads the same folder).
    if (!window.since.empty()) {
        auto kept = read_kept(base, delta, token_file, {window.since, window.token});
        std::optional<Patch> patch;
        if (kept) patch = look_again(dataset, window.paths);
        Effects effects;
        std::optional<PartitionScan> scan;
        if (patch) scan = merged(kept->entries, kept->base_count, kept->delta, *patch, effects);
        if (scan) {
            for (auto& [name, stamp] : effects) kept->delta[name] = stamp;
            // A delta grown to an eighth of the base is folded into a new base.
            const bool fold = kept->delta.size() > std::max<std::size_t>(4096, kept->base_count / 8);
            keep(*scan, kept->base_id, fold ? nullptr : &kept->delta, effects.empty() ? kept->delta_sum : std::string());
            log("dataset '" + dataset.name + "': " + count_text(scan->names.size()) + " partition(s) from the last run's scan and " +
                count_text(window.paths.size()) + " path(s) changed since: no walk");
            return std::move(*scan);
        }
    }
    PartitionScan scan = scan_partitions(dataset, missing_ok, temporaries);
    fs::remove(token_file, ec);  // the old one must never pair with what follows
    if (!scan.followed_links) keep(scan, 0, nullptr, {});
    return scan;
}

}  // namespace steppar
