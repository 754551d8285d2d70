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
#include <optional>
#include <random>
#include <sys/stat.h>
#include <sys/statfs.h>

namespace fs = std::filesystem;

namespace steppar {

namespace {

constexpr std::string_view window_header = "steppar-watch-window 1\n";
constexpr std::string_view scan_header = "steppar-scan 1\n";

// ---- the kept scan: a body (names and stamps, with a checksum) and a token file ------------
//
// The body is rewritten only when the scan differs from it; the token file, small, at every
// run: "<token>\t<body id>\n". A body and a token file written by two runs at once do not
// pair (the ids differ), so the pair is trusted only as one run wrote it.

void put64(std::string& out, std::uint64_t v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); }
bool get64(std::string_view& in, std::uint64_t& v) {
    if (in.size() < sizeof v) return false;
    std::memcpy(&v, in.data(), sizeof v);
    in.remove_prefix(sizeof v);
    return true;
}

struct KeptScan {
    PartitionScan scan;
    std::uint64_t id = 0;
};

std::string hex(std::uint64_t v) {
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(v));
    return text;
}

std::optional<KeptScan> read_kept(const fs::path& body, const fs::path& token_file, const std::vector<std::string>& tokens) {
    std::error_code ec;
    if (!fs::exists(token_file, ec) || !fs::exists(body, ec)) return std::nullopt;
    KeptScan kept;
    try {
        const std::string token_text = read_file(token_file);
        const auto tab = token_text.find('\t');
        if (tab == std::string::npos || token_text.empty() || token_text.back() != '\n') return std::nullopt;
        const std::string token = token_text.substr(0, tab);
        if (std::find(tokens.begin(), tokens.end(), token) == tokens.end()) return std::nullopt;
        const std::string id = token_text.substr(tab + 1, token_text.size() - tab - 2);
        const std::string text = read_file(body);
        if (text.size() < scan_header.size() + 24 || text.compare(0, scan_header.size(), scan_header) != 0) return std::nullopt;
        std::uint64_t sum = 0;
        std::memcpy(&sum, text.data() + text.size() - 8, 8);
        if (sum != XXH3_64bits(text.data(), text.size() - 8)) return std::nullopt;
        std::string_view in(text);
        in.remove_prefix(scan_header.size());
        in.remove_suffix(8);
        std::uint64_t count = 0;
        if (!get64(in, kept.id) || hex(kept.id) != id || !get64(in, count)) return std::nullopt;
        kept.scan.names.reserve(count);
        kept.scan.stamps.reserve(count);
        for (std::uint64_t i = 0; i < count; ++i) {
            std::uint64_t size = 0;
            if (!get64(in, size) || in.size() < size + 24) return std::nullopt;
            kept.scan.names.emplace_back(in.substr(0, size));
            in.remove_prefix(size);
            FileStamp s;
            std::memcpy(&s.size, in.data(), 8);
            std::memcpy(&s.mtime_ns, in.data() + 8, 8);
            std::memcpy(&s.ctime_ns, in.data() + 16, 8);
            in.remove_prefix(24);
            kept.scan.stamps.push_back(s);
        }
        if (!in.empty()) return std::nullopt;
    } catch (const Error&) {
        return std::nullopt;  // unreadable: a walk instead
    }
    return kept;
}

std::uint64_t new_id() {
    std::random_device random;
    return (static_cast<std::uint64_t>(random()) << 32) ^ random();
}

void write_body(const fs::path& body, const PartitionScan& scan, std::uint64_t id) {
    std::string text(scan_header);
    std::size_t bytes = 0;
    for (const auto& n : scan.names) bytes += n.size() + 32;
    text.reserve(text.size() + 24 + bytes);
    put64(text, id);
    put64(text, scan.names.size());
    for (std::size_t i = 0; i < scan.names.size(); ++i) {
        put64(text, scan.names[i].size());
        text += scan.names[i];
        put64(text, static_cast<std::uint64_t>(scan.stamps[i].size));
        put64(text, static_cast<std::uint64_t>(scan.stamps[i].mtime_ns));
        put64(text, static_cast<std::uint64_t>(scan.stamps[i].ctime_ns));
    }
    put64(text, XXH3_64bits(text.data(), text.size()));
    AtomicFile out(body);
    out.stream().write(text.data(), static_cast<std::streamsize>(text.size()));
    out.commit();  // not durable: a body lost in a power cut is a walk at the next run
}

void write_token(const fs::path& token_file, const std::string& token, std::uint64_t id) {
    AtomicFile out(token_file);
    out.stream() << token << '\t' << hex(id) << '\n';
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

// The kept scan with the window's paths looked at again; nullopt when they cannot be trusted
// to stand for a walk. `changed` says whether the answer differs from the kept scan.
std::optional<PartitionScan> patched(PartitionScan kept, const Dataset& d, const std::vector<std::string>& paths, bool& changed) {
    const std::string root = d.path.native();
    std::vector<std::string> gone_names, gone_folders;  // partition names, and folder prefixes "a/b/"
    std::map<std::string, FileStamp> found;
    const auto forget = [&](const std::string& rel) {
        gone_folders.push_back(rel + "/");
        if (ends_with_suffix(rel.substr(rel.rfind('/') + 1), d.suffix)) gone_names.push_back(rel.substr(0, rel.size() - d.suffix.size()));
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
            for (std::size_t i = 0; i < under.names.size(); ++i) found[std::move(under.names[i])] = under.stamps[i];
            walked = rel + "/";
        } else if (S_ISREG(st.st_mode) && ends_with_suffix(rel.substr(rel.rfind('/') + 1), d.suffix)) {
            std::string name = rel.substr(0, rel.size() - d.suffix.size());
            if (!valid_utf8(name))
                throw InputError("dataset '" + d.name + "': file name '" + path + "' is not valid UTF-8; rename it (partition names are stored in JSON)");
            found[std::move(name)] = stamp_of(path);
        }
    }
    std::sort(gone_names.begin(), gone_names.end());
    std::sort(gone_folders.begin(), gone_folders.end());
    // Folders inside another one gone are covered by it: then the one before a name is its only candidate.
    std::vector<std::string> outermost;
    for (auto& f : gone_folders)
        if (outermost.empty() || !starts_with(f, outermost.back())) outermost.push_back(std::move(f));
    const auto is_gone = [&](const std::string& name) {
        if (std::binary_search(gone_names.begin(), gone_names.end(), name)) return true;
        const auto it = std::upper_bound(outermost.begin(), outermost.end(), name);
        return it != outermost.begin() && starts_with(name, *(it - 1));
    };

    PartitionScan out;
    out.names.reserve(kept.names.size() + found.size());
    out.stamps.reserve(kept.names.size() + found.size());
    changed = false;
    auto next = found.begin();
    for (std::size_t i = 0; i < kept.names.size(); ++i) {
        for (; next != found.end() && next->first < kept.names[i]; ++next) {
            out.names.push_back(next->first);
            out.stamps.push_back(next->second);
            changed = true;
        }
        if (next != found.end() && next->first == kept.names[i]) {
            changed = changed || !(next->second == kept.stamps[i]);
            out.names.push_back(std::move(kept.names[i]));
            out.stamps.push_back(next->second);
            ++next;
            continue;
        }
        if ((!gone_names.empty() || !outermost.empty()) && is_gone(kept.names[i])) {
            changed = true;
            continue;
        }
        out.names.push_back(std::move(kept.names[i]));
        out.stamps.push_back(kept.stamps[i]);
    }
    for (; next != found.end(); ++next) {
        out.names.push_back(next->first);
        out.stamps.push_back(next->second);
        changed = true;
    }
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

PartitionScan scan_watched(const Dataset& dataset, const WatchWindow& watch_window, const fs::path& dir, bool missing_ok,
                           std::vector<std::string>* temporaries) {
    const WatchWindow* window = &watch_window;
    const std::string why_not = untrusted(dataset);
    if (!why_not.empty()) return scan_partitions(dataset, missing_ok, temporaries);
    const std::string key = hex(XXH3_64bits(dataset.path.c_str(), dataset.path.native().size())) + "-" + hex(XXH3_64bits(dataset.suffix.data(), dataset.suffix.size()));
    const fs::path body = dir / (key + ".scan"), token_file = dir / (key + ".token");
    std::error_code ec;
    fs::create_directories(dir, ec);

    // The kept scan of the run before (or of this run: another unit reads the same folder).
    if (!window->since.empty()) {
        if (auto kept = read_kept(body, token_file, {window->since, window->token})) {
            const std::size_t before = kept->scan.names.size();
            bool changed = false;
            if (auto scan = patched(std::move(kept->scan), dataset, window->paths, changed)) {
                try {
                    if (changed) kept->id = new_id(), write_body(body, *scan, kept->id);
                    write_token(token_file, window->token, kept->id);
                } catch (const Error& e) {
                    warn(std::string(e.what()) + ": the next run walks '" + dataset.path.string() + "'");
                    fs::remove(token_file, ec);
                }
                log("dataset '" + dataset.name + "': " + count_text(scan->names.size()) + " partition(s) from the last run's scan (" +
                    count_text(before) + ") and " + count_text(window->paths.size()) + " path(s) changed since: no walk");
                return std::move(*scan);
            }
        }
    }
    PartitionScan scan = scan_partitions(dataset, missing_ok, temporaries);
    fs::remove(token_file, ec);  // the old one must never pair with what follows
    if (!scan.followed_links) {
        try {
            const std::uint64_t id = new_id();
            write_body(body, scan, id);
            write_token(token_file, window->token, id);
        } catch (const Error& e) {
            warn(std::string(e.what()) + ": the next run walks '" + dataset.path.string() + "'");
        }
    }
    return scan;
}

}  // namespace steppar
