#include "steppar/ledger.hpp"

#include "steppar/atomic_file.hpp"
#include "steppar/error.hpp"
#include "steppar/files.hpp"
#include "steppar/interruption.hpp"
#include "steppar/text.hpp"

#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <utility>
#include <unistd.h>

namespace fs = std::filesystem;

namespace steppar {
namespace {

constexpr std::string_view header_tag = "#steppar-ledger\t1\tthrough\t";

fs::path ledger_dir(const StateLayout& state, std::string_view unit) { return state.unit_dir(unit) / "ledger"; }

void append_hex64(std::string& out, std::uint64_t value) {
    char buffer[16];
    static constexpr char digits[] = "0123456789abcdef";
    for (int i = 15; i >= 0; --i, value >>= 4) buffer[i] = digits[value & 15];
    out.append(buffer, 16);
}

std::uint64_t checksum(std::string_view bytes) { return XXH3_64bits(bytes.data(), bytes.size()); }

// The first `max` tab-separated fields of a line; returns how many there are (up to max).
std::size_t split(std::string_view line, std::string_view* out, std::size_t max) {
    std::size_t n = 0;
    for (std::size_t start = 0; n < max;) {
        const auto tab = line.find('\t', start);
        out[n++] = line.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start);
        if (tab == std::string_view::npos) break;
        start = tab + 1;
    }
    return n;
}

// The line a record points at (without its '\n').
std::string_view line_at(const char* start, const std::string& text) {
    const char* end = static_cast<const char*>(std::memchr(start, '\n', static_cast<std::size_t>(text.data() + text.size() - start)));
    return {start, static_cast<std::size_t>(end - start)};
}

// A segment line without its check, or nothing when the check fails (torn or damaged).
bool checked(std::string_view line, std::string_view& content) {
    const auto tab = line.rfind('\t');
    if (tab == std::string_view::npos || line.size() - tab - 1 != 16) return false;
    std::string expected;
    append_hex64(expected, checksum(line.substr(0, tab)));
    if (line.substr(tab + 1) != expected) return false;
    content = line.substr(0, tab);
    return true;
}

bool parse_number(std::string_view text, std::uint64_t& value) {
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    return error == std::errc() && end == text.data() + text.size() && !text.empty();
}

// Calls `each(line)` for every complete line ('\n'-terminated) of `text`.
template <class F>
void for_each_line(std::string_view text, F&& each) {
    for (std::size_t start = 0; start < text.size();) {
        interruption_point();  // a million lines
        const auto end = text.find('\n', start);
        if (end == std::string_view::npos) return;  // a torn last line
        each(text.substr(start, end - start));
        start = end + 1;
    }
}

// "gGEN-sSLICE.tsv" or "gGEN-host.tsv": the generation, and the order within it (host first).
bool segment_name(const std::string& file, std::uint64_t& generation, long& order) {
    if (file.size() < 8 || file[0] != 'g' || file.compare(file.size() - 4, 4, ".tsv") != 0) return false;
    const auto dash = file.find('-');
    if (dash == std::string::npos || !parse_number(std::string_view(file).substr(1, dash - 1), generation)) return false;
    const std::string_view who = std::string_view(file).substr(dash + 1, file.size() - dash - 5);
    if (who == "host") {
        order = -1;
        return true;
    }
    std::uint64_t slice = 0;
    if (who.size() < 2 || who[0] != 's' || !parse_number(who.substr(1), slice)) return false;
    order = static_cast<long>(slice);
    return true;
}

// The base, trusted only whole: its first line the header, its last the end line with the
// count of records and the checksum of every byte above it. It is fed in pieces of whole lines
// (a torn end makes it damaged) and passes the lines between to `each` as they come, before the
// verdict: a reader drops what it took from them when intact() is false.
class BaseCheck {
public:
    BaseCheck() : state_(XXH3_createState()) {
        if (!state_ || XXH3_64bits_reset(state_) != XXH_OK) throw std::bad_alloc();
    }
    ~BaseCheck() { XXH3_freeState(state_); }
    BaseCheck(const BaseCheck&) = delete;
    BaseCheck& operator=(const BaseCheck&) = delete;

    template <class F>
    void feed(std::string_view piece, F&& each) {
        if (piece.empty()) return;
        if (piece.back() != '\n') {
            torn_ = true;
            return;
        }
        // The line held back was not the last after all; of this piece, all but its last line are not either.
        const std::string held = std::move(held_);
        const auto last = piece.size() >= 2 ? piece.rfind('\n', piece.size() - 2) : std::string_view::npos;
        const std::size_t last_start = last == std::string_view::npos ? 0 : last + 1;
        release(held, each);
        release(piece.substr(0, last_start), each);
        held_.assign(piece.substr(last_start));
    }

    bool intact() const {
        if (torn_ || !header_ || held_.empty()) return false;
        std::string_view end[4];
        const std::size_t fields = split(std::string_view(held_).substr(0, held_.size() - 1), end, 4);
        std::string sum;
        append_hex64(sum, XXH3_64bits_digest(state_));
        std::uint64_t records = 0;
        return fields == 3 && end[0] == "E" && parse_number(end[1], records) && end[2] == sum;
    }
    std::uint64_t through() const noexcept { return through_; }

private:
    template <class F>
    void release(std::string_view lines, F&& each) {
        if (lines.empty()) return;
        XXH3_64bits_update(state_, lines.data(), lines.size());
        if (!seen_header_) {
            const auto end = lines.find('\n');
            header_ = lines.rfind(header_tag, 0) == 0 && parse_number(lines.substr(header_tag.size(), end - header_tag.size()), through_);
            seen_header_ = true;
            lines.remove_prefix(end + 1);
        }
        for_each_line(lines, each);
    }

    XXH3_state_t* state_;
    std::string held_;  ///< the last line so far
    bool torn_ = false, seen_header_ = false, header_ = false;
    std::uint64_t through_ = 0;
};

// The plan generation that made a base record (0 when the line names none).
std::uint64_t base_generation(std::string_view line) {
    std::string_view f[6];
    std::uint64_t generation = 0;
    if (split(line, f, 6) == 6) parse_number(f[5], generation);
    return generation;
}

// Whether a segment's line of `generation` replaces the base's record of the same name: it
// does unless the base's is newer (a segment left over from a fold that crashed before
// removing it).
bool replaces_base(std::uint64_t generation, std::string_view base_line) { return generation >= base_generation(base_line); }

// A ledger's segments in the order they apply: generation, then the host's before the slices'.
struct SegmentFile {
    std::uint64_t generation;
    long order;
    fs::path path;
};

std::vector<SegmentFile> segments_in_order(const fs::path& dir) {
    std::vector<SegmentFile> found;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        SegmentFile f{0, 0, entry.path()};
        if (segment_name(entry.path().filename().string(), f.generation, f.order)) found.push_back(std::move(f));
    }
    std::sort(found.begin(), found.end(), [](const SegmentFile& a, const SegmentFile& b) {
        return a.generation != b.generation ? a.generation < b.generation : a.order < b.order;
    });
    return found;
}

// Whether field `index` of a tab-separated line reads as `name` once unescaped (as
// tsv_unescaped() reads it), compared byte by byte: most lines differ in their first bytes, so
// a lookup passes over them without splitting them.
bool field_reads_as(std::string_view line, std::size_t index, std::string_view name) {
    std::size_t at = 0;
    for (std::size_t i = 0; i < index; ++i, ++at)  // the fields before it are short: no call
        while (at < line.size() && line[at] != '\t') ++at;
    if (at > line.size()) return false;
    std::size_t matched = 0;
    while (at < line.size() && line[at] != '\t') {
        char c = line[at++];
        if (c == '\\' && at < line.size() && line[at] != '\t') {
            const char e = line[at++];
            c = e == 't' ? '\t' : e == 'n' ? '\n' : e == 'r' ? '\r' : e;
        }
        if (matched == name.size() || name[matched] != c) return false;
        ++matched;
    }
    return matched == name.size();
}

// A ledger file's text in pieces of whole lines (the last may be torn): load() reads it whole
// into `kept` (its records point into it), lookup() through a small buffer (it copies the
// line it keeps). The errors are read_file()'s.
class LineSource {
public:
    LineSource(const fs::path& path, bool whole, std::string& kept) {
        if (whole) kept = read_file(path), whole_ = kept;
        else pieces_.emplace(path, true);
    }
    std::string_view next() {
        if (pieces_) return pieces_->next();
        return std::exchange(whole_, std::string_view());
    }

private:
    std::optional<FilePieces> pieces_;
    std::string_view whole_;
};

}  // namespace

std::string stamps_text(const FileStamp* stamps, std::size_t count) {
    std::string out;
    for (std::size_t i = 0; i < count; ++i) {
        if (i) out.push_back(',');
        append_stamp(out, stamps[i]);
    }
    return out;
}

bool parse_stamps(std::string_view text, std::vector<FileStamp>& stamps, std::size_t count) {
    stamps.assign(count, {});
    for (std::size_t i = 0; i < count; ++i) {
        const auto comma = text.find(',');
        if ((comma == std::string_view::npos) != (i + 1 == count)) return false;
        if (!parse_stamp(text.substr(0, comma), stamps[i])) return false;
        if (comma != std::string_view::npos) text.remove_prefix(comma + 1);
    }
    return true;
}

fs::path slice_segment(const StateLayout& state, std::string_view unit, std::uint64_t generation, int slice) {
    return ledger_dir(state, unit) / ("g" + std::to_string(generation) + "-s" + std::to_string(slice) + ".tsv");
}

fs::path host_segment(const StateLayout& state, std::string_view unit, std::uint64_t generation) {
    return ledger_dir(state, unit) / ("g" + std::to_string(generation) + "-host.tsv");
}

std::uint32_t Ledger::definition_index(std::string_view digest) {
    const auto it = definition_numbers_.find(digest);
    if (it != definition_numbers_.end()) return it->second;
    const auto index = static_cast<std::uint32_t>(definitions_.size());
    definitions_.emplace_back(digest);
    definition_numbers_.emplace(std::string(digest), index);
    return index;
}

// A D line of the base (anything else is left alone).
void Ledger::base_definition(Source& source, std::string_view line) {
    if (line.rfind("D\t", 0) != 0) return;
    std::string_view f[4];
    std::uint64_t k = 0;
    if (split(line, f, 4) == 3 && parse_number(f[1], k)) {
        if (source.definitions.size() <= k) source.definitions.resize(k + 1);
        source.definitions[k] = definition_index(f[2]);
    }
}

// A segment line: 0 when it is torn or damaged (its check fails); 'D' for a definition (taken
// into the source's numbers); 'R' or 'X' for a record or a retraction, with its name field
// (escaped); '?' for any other intact line (a vanished partition's).
char Ledger::segment_line(Source& source, std::string_view line, std::string_view& name) {
    std::string_view content;
    if (!checked(line, content)) return 0;
    std::string_view f[5];
    const std::size_t fields = split(content, f, 5);
    if (f[0] == "D" && fields == 3) {
        std::uint64_t k = 0;
        if (!parse_number(f[1], k)) return 'D';
        if (source.definitions.size() <= k) source.definitions.resize(k + 1, UINT32_MAX);
        source.definitions[k] = definition_index(f[2]);
        return 'D';
    }
    if (f[0] == "R" && fields == 5) {
        name = f[2];
        return 'R';
    }
    if (f[0] == "X" && fields == 2) {
        name = f[1];
        return 'X';
    }
    return '?';
}

// What load() and lookup() share: which files are read, in which order, how (whole, or in
// pieces for a partial view), what a damaged base or an unreadable segment does, and the
// generation. `on_base_line(ledger, line)` sees every line of the base's body as it is read,
// before the base is known to be intact: when it is not, read() drops what the ledger took from
// them, and a caller drops what it kept. `on_segment_line(ledger, source, line)` sees every
// complete line of each segment read.
template <class OnBaseLine, class OnSegmentLine>
Ledger Ledger::read(const StateLayout& state, std::string_view unit, bool partial, OnBaseLine&& on_base_line,
                    OnSegmentLine&& on_segment_line) {
    Ledger ledger;
    ledger.partial_ = partial;
    const fs::path dir = ledger_dir(state, unit);
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return ledger;
    ledger.sources_.emplace_back();
    const fs::path base = dir / "base.tsv";
    if (fs::exists(base, ec)) {
        BaseCheck check;
        LineSource text(base, !partial, ledger.sources_[0].text);
        // At most one record per 32 bytes, usually fewer: a capacity never touched costs nothing.
        if (!partial) reserve_huge(ledger.records_, ledger.sources_[0].text.size() / 32);
        for (std::string_view piece = text.next(); !piece.empty(); piece = text.next())
            check.feed(piece, [&](std::string_view line) { on_base_line(ledger, line); });
        if (!check.intact()) {
            ledger.damaged_ = "ledger '" + base.string() + "' is damaged; its partitions run again";
            ledger.sources_[0] = Source();  // nothing of it is used
            ledger.records_ = {};
            ledger.definitions_.clear();
            ledger.definition_numbers_.clear();
        } else {
            ledger.generation_ = check.through();
            ledger.base_records_ = ledger.records_.size();
        }
    }

    const std::vector<SegmentFile> found = segments_in_order(dir);
    for (const auto& f : found) ledger.generation_ = std::max(ledger.generation_, f.generation);
    for (const auto& f : found) {
        ledger.sources_.emplace_back();
        Source& source = ledger.sources_.back();
        source.generation = f.generation;
        std::optional<LineSource> text;
        std::string_view piece;
        // Reads on; false when the segment is gone (folded meanwhile). One that is there but
        // cannot be read is an error: its records (and retractions) would be silently lost, and
        // a fold would delete it.
        const auto next = [&] {
            try {
                if (!text) text.emplace(f.path, !partial, source.text);
                piece = text->next();
                return true;
            } catch (const Error& e) {
                std::error_code gone;
                if (!fs::exists(f.path, gone) && !gone) return false;
                throw StateError(std::string(e.what()) + ": the ledger cannot be read whole; fix the cause (permissions, the disk), or remove that file " +
                                 "to run its partitions again, and rerun");
            }
        };
        if (!next()) {
            ledger.sources_.pop_back();
            continue;
        }
        ledger.segment_paths_.push_back(f.path);  // read: a fold may replace it
        const auto index = static_cast<std::uint32_t>(ledger.sources_.size() - 1);
        while (!piece.empty()) {
            for_each_line(piece, [&](std::string_view line) { on_segment_line(ledger, index, line); });
            if (!next()) break;
        }
    }
    return ledger;
}

Ledger Ledger::load(const StateLayout& state, std::string_view unit) {
    struct Overlay {
        std::string name;
        std::size_t order;
        const char* line;  // null: retracted
        std::uint32_t source;
    };
    std::vector<Overlay> overlay;
    Ledger ledger = read(
        state, unit, false,
        [](Ledger& l, std::string_view line) {
            if (line.rfind("R\t", 0) == 0) l.records_.push_back({line.data(), 0});
            else l.base_definition(l.sources_[0], line);
        },
        [&overlay](Ledger& l, std::uint32_t source, std::string_view line) {
            std::string_view name;
            const char kind = l.segment_line(l.sources_[source], line, name);
            if (kind) ++l.segment_lines_;
            if (kind == 'R' || kind == 'X') overlay.push_back({tsv_unescaped(name), overlay.size(), kind == 'R' ? line.data() : nullptr, source});
        });
    if (overlay.empty()) return ledger;

    // Slices append in name order and cut by name: the overlay is usually sorted already.
    auto before = [](const Overlay& a, const Overlay& b) { return a.name != b.name ? a.name < b.name : a.order < b.order; };
    if (!std::is_sorted(overlay.begin(), overlay.end(), before)) std::sort(overlay.begin(), overlay.end(), before);
    std::vector<Record> merged;
    reserve_huge(merged, ledger.records_.size() + overlay.size());
    std::size_t b = 0;
    for (std::size_t o = 0; o < overlay.size(); ++o) {
        if (o + 1 < overlay.size() && overlay[o + 1].name == overlay[o].name) continue;  // a later line wins
        const std::string& name = overlay[o].name;
        bool newer = true;
        for (; b < ledger.records_.size(); ++b) {
            const std::string base_name = ledger.name_at(b);
            if (base_name >= name) {
                if (base_name == name) {
                    newer = replaces_base(ledger.sources_[overlay[o].source].generation, line_at(ledger.records_[b].line, ledger.sources_[0].text));
                    if (!newer) merged.push_back(ledger.records_[b]);
                    ++b;
                }
                break;
            }
            merged.push_back(ledger.records_[b]);
        }
        if (newer && overlay[o].line) merged.push_back({overlay[o].line, overlay[o].source});
    }
    merged.insert(merged.end(), ledger.records_.begin() + static_cast<std::ptrdiff_t>(b), ledger.records_.end());
    ledger.records_ = std::move(merged);
    return ledger;
}

Ledger Ledger::lookup(const StateLayout& state, std::string_view unit, const std::string& name) {
    // The base's record (the first, as find() takes it) and the last segment line of the name:
    // copied, since each file is read through a small buffer.
    std::string base_line, latest_line;
    std::uint32_t latest_source = 0;
    char latest_kind = 0;
    Ledger ledger = read(
        state, unit, true,
        [&](Ledger& l, std::string_view line) {
            if (line.rfind("R\t", 0) != 0) l.base_definition(l.sources_[0], line);
            else if (base_line.empty() && field_reads_as(line, 2, name)) base_line = line;
        },
        [&](Ledger& l, std::uint32_t source, std::string_view line) {
            // Definitions always; records and retractions only when their name is this one.
            if (line.rfind("D\t", 0) != 0 && !(line.rfind("R\t", 0) == 0 && field_reads_as(line, 2, name)) &&
                !(line.rfind("X\t", 0) == 0 && field_reads_as(line, 1, name)))
                return;
            std::string_view field;
            const char kind = l.segment_line(l.sources_[source], line, field);
            if (kind != 'R' && kind != 'X') return;
            latest_line = line;
            latest_source = source;
            latest_kind = kind;
        });
    if (!ledger.damaged_.empty()) base_line.clear();
    // The same precedence as load(): a segment's line replaces the base's record unless that
    // is newer; a retraction leaves none.
    if (latest_kind && (base_line.empty() || replaces_base(ledger.sources_[latest_source].generation, base_line))) {
        if (latest_kind == 'X') return ledger;
        ledger.sources_[latest_source].text = latest_line + "\n";
        ledger.records_.push_back({ledger.sources_[latest_source].text.data(), latest_source});
    } else if (!base_line.empty()) {
        ledger.sources_[0].text = base_line + "\n";
        ledger.records_.push_back({ledger.sources_[0].text.data(), 0});
    }
    return ledger;
}

LedgerEntry Ledger::entry(std::size_t i) const {
    const Record& r = records_[i];
    const Source& source = sources_[r.source];
    std::string_view f[5];
    split(line_at(r.line, source.text), f, 5);
    LedgerEntry e;
    std::uint64_t k = 0;
    e.definition = parse_number(f[1], k) && k < source.definitions.size() ? source.definitions[k] : UINT32_MAX;
    e.name = tsv_unescaped(f[2]);
    e.inputs = f[3];
    e.outputs = f[4];
    e.generation = r.source == 0 ? base_generation(line_at(r.line, source.text)) : source.generation;
    return e;
}

std::string Ledger::name_at(std::size_t i) const {
    std::string_view f[3];
    split(line_at(records_[i].line, sources_[records_[i].source].text), f, 3);
    return tsv_unescaped(f[2]);
}

std::size_t Ledger::find(const std::string& name) const {
    std::size_t low = 0, high = records_.size();
    while (low < high) {
        const std::size_t mid = low + (high - low) / 2;
        if (name_at(mid) < name) low = mid + 1;
        else high = mid;
    }
    return low < records_.size() && name_at(low) == name ? low : records_.size();
}

bool Ledger::fold_is_due() const noexcept {
    if (partial_ || segment_paths_.empty()) return false;
    return segment_lines_ * 4 >= base_records_ || segment_paths_.size() > 64 || !damaged_.empty();
}

bool Ledger::fold_is_due_on_disk(const StateLayout& state, std::string_view unit) {
    const fs::path dir = ledger_dir(state, unit);
    std::error_code ec;
    std::uintmax_t base = 0, segments = 0;
    std::size_t files = 0;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        const std::string name = entry.path().filename().string();
        std::uint64_t generation = 0;
        long order = 0;
        const auto size = entry.file_size(ec);
        if (name == "base.tsv") base = size;
        else if (segment_name(name, generation, order)) segments += size, ++files;
    }
    // A segment line is about as long as a base line (it has a checksum, the base a generation).
    return files > 0 && (segments * 4 >= base || files > 64);
}

void Ledger::fold(const StateLayout& state, std::string_view unit) const {
    if (partial_)
        throw PartialLedgerError("the ledger of '" + std::string(unit) + "' was read for one partition (Ledger::lookup): folding it would " +
                                 "write a base of that record alone");
    const fs::path dir = ledger_dir(state, unit);
    std::string text(header_tag);
    text += std::to_string(generation_) + "\n";
    for (std::size_t k = 0; k < definitions_.size(); ++k) text += "D\t" + std::to_string(k) + "\t" + definitions_[k] + "\n";
    for (const Record& r : records_) {
        const Source& source = sources_[r.source];
        std::string_view f[5];
        split(line_at(r.line, source.text), f, 5);
        std::uint64_t k = 0;
        if (!parse_number(f[1], k) || k >= source.definitions.size() || source.definitions[k] == UINT32_MAX) continue;
        text += "R\t";
        text += std::to_string(source.definitions[k]);
        for (std::size_t i = 2; i < 5; ++i) {
            text.push_back('\t');
            text.append(f[i]);
        }
        text.push_back('\t');
        if (r.source == 0) {
            std::string_view g[6];
            text.append(split(line_at(r.line, source.text), g, 6) == 6 ? g[5] : std::string_view("0"));
        } else {
            text += std::to_string(source.generation);
        }
        text.push_back('\n');
    }
    const std::uint64_t sum = checksum(text);
    text += "E\t" + std::to_string(records_.size()) + "\t";
    append_hex64(text, sum);
    text.push_back('\n');
    write_file_atomically(dir / "base.tsv", text, AtomicFile::Durability::durable);
    std::error_code ec;
    for (const auto& path : segment_paths_) fs::remove(path, ec);
}

Segment read_segment(const fs::path& path) {
    Segment segment;
    std::string text;
    try {
        text = read_file(path);
    } catch (const Error&) {
        return segment;
    }
    std::map<std::uint64_t, std::uint32_t> numbers;  // this file's K -> index into definitions
    for_each_line(text, [&](std::string_view line) {
        std::string_view content;
        if (!checked(line, content)) return;
        std::string_view f[5];
        const std::size_t n = split(content, f, 5);
        std::uint64_t k = 0;
        if (f[0] == "D" && n == 3 && parse_number(f[1], k)) {
            numbers[k] = static_cast<std::uint32_t>(segment.definitions.size());
            segment.definitions.emplace_back(f[2]);
        } else if (f[0] == "R" && n == 5 && parse_number(f[1], k) && numbers.count(k)) {
            segment.lines.push_back({'R', tsv_unescaped(f[2]), numbers[k]});
        } else if ((f[0] == "X" || f[0] == "V") && n == 2) {
            segment.lines.push_back({f[0][0], tsv_unescaped(f[1]), 0});
        }
    });
    return segment;
}

LedgerAppender::LedgerAppender(fs::path path) : path_(std::move(path)) {
    std::error_code ec;
    fs::create_directories(path_.parent_path(), ec);
    std::string existing;
    if (fs::exists(path_, ec)) {
        try {
            existing = read_file(path_);
        } catch (const Error& e) {
            // Without its D lines, a new "D 0" would give an earlier record another definition.
            throw StateError(std::string(e.what()) + ": cannot continue that ledger segment; fix the cause, or remove it to run its partitions again, and rerun");
        }
    }
    open_for_append();
    // New definitions are numbered after every number this file may already use: intact D
    // lines, damaged ones whose number still reads, and (numbers being given densely from 0,
    // one line each) the count of its lines, so a number from a line damaged beyond reading is
    // never given to another digest.
    std::size_t lines = 0, damaged = 0;
    for_each_line(existing, [&](std::string_view line) {
        ++lines;
        std::string_view content;
        std::string_view f[4];
        std::uint64_t k = 0;
        if (!checked(line, content)) {
            ++damaged;
            if (line.rfind("D\t", 0) == 0 && split(line, f, 4) >= 2 && parse_number(f[1], k)) next_ = std::max<std::uint64_t>(next_, k + 1);
            return;
        }
        if (split(content, f, 4) == 3 && f[0] == "D" && parse_number(f[1], k)) {
            defined_.emplace(std::string(f[2]), static_cast<std::uint32_t>(k));
            next_ = std::max<std::uint64_t>(next_, k + 1);
        }
    });
    if (damaged) next_ = std::max<std::uint64_t>(next_, lines);
    // A line torn by a killed writer must not swallow the first line written now.
    if (!existing.empty() && existing.back() != '\n') {
        std::string newline = "\n";
        append(newline);
    }
}

LedgerAppender::~LedgerAppender() { file_.close_if_intact(); }

// O_NOFOLLOW: a link planted in the state folder must not get ledger lines appended to its target.
void LedgerAppender::open_for_append() {
    file_ = OwnedDescriptor(::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (file_.fd() < 0) throw StateError("cannot write the ledger '" + path_.string() + "': " + std::strerror(errno));
}

void LedgerAppender::append(std::string& line) {
    // A node that closed every descriptor it did not open took this one too, and the number may
    // name one of its own files now: open the segment again rather than write into that.
    if (!file_.intact()) open_for_append();
    const char* data = line.data();
    std::size_t left = line.size();
    while (left > 0) {
        const ssize_t n = ::write(file_.fd(), data, left);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw StateError("cannot write the ledger '" + path_.string() + "': " + std::strerror(errno));
        data += n;
        left -= static_cast<std::size_t>(n);
    }
}

std::uint32_t LedgerAppender::define(std::string_view digest) {
    const auto it = defined_.find(digest);
    if (it != defined_.end()) return it->second;
    const auto k = static_cast<std::uint32_t>(next_++);
    line_ = "D\t" + std::to_string(k) + "\t" + std::string(digest);
    const std::uint64_t sum = checksum(line_);
    line_.push_back('\t');
    append_hex64(line_, sum);
    line_.push_back('\n');
    append(line_);
    defined_.emplace(std::string(digest), k);
    return k;
}

void LedgerAppender::record(std::string_view name, std::uint32_t definition, const FileStamp* inputs, std::size_t input_count,
                            const FileStamp* outputs, std::size_t output_count) {
    line_ = "R\t";
    line_ += std::to_string(definition);
    line_.push_back('\t');
    append_tsv_escaped(line_, name);
    line_.push_back('\t');
    for (std::size_t i = 0; i < input_count; ++i) {
        if (i) line_.push_back(',');
        append_stamp(line_, inputs[i]);
    }
    line_.push_back('\t');
    for (std::size_t i = 0; i < output_count; ++i) {
        if (i) line_.push_back(',');
        append_stamp(line_, outputs[i]);
    }
    const std::uint64_t sum = checksum(line_);
    line_.push_back('\t');
    append_hex64(line_, sum);
    line_.push_back('\n');
    append(line_);
}

void LedgerAppender::retracted(std::string_view name) { name_line('X', name); }

void LedgerAppender::vanished(std::string_view name) { name_line('V', name); }

void LedgerAppender::name_line(char kind, std::string_view name) {
    line_.assign(1, kind).push_back('\t');
    append_tsv_escaped(line_, name);
    const std::uint64_t sum = checksum(line_);
    line_.push_back('\t');
    append_hex64(line_, sum);
    line_.push_back('\n');
    append(line_);
}

}  // namespace steppar
