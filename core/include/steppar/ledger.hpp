// The ledger: per unit and per partition, what steppar made and from what. It is what decides
// whether a partition is up to date (freshness.hpp), what a deleted input takes with it, and
// what the barrier verifies; a marker only says that a step ended and how.
//
// One record per partition a unit has processed: the stamps (stamp.hpp) of its input files as
// the slice read them, the digest of the unit's definition as it applied to that partition
// (functions, plugin bytes, params, file inputs, the configurator data chosen for it), and the
// stamps of the outputs it wrote. On disk, under <state>/units/<unit>/ledger/:
//
//   base.tsv          the folded ledger, one line per partition in name order, written whole
//                     (atomically and durably) by a slicer or barrier that folds:
//     #steppar-ledger<TAB>1<TAB>through<TAB>GEN          the highest generation folded in
//     D<TAB>K<TAB>SHA256                                  definition digest number K (this file)
//     R<TAB>K<TAB>NAME<TAB>INPUT,STAMPS<TAB>OUTPUT,STAMPS<TAB>GEN   one partition, made by plan GEN
//     E<TAB>RECORDS<TAB>XXH3                              XXH3-64 (hex) of every byte above
//   gGEN-sSLICE.tsv   appended by slice SLICE of plan generation GEN, one line per partition as
//   gGEN-host.tsv     it finishes (a write(2) each, never an fsync: a killed slice keeps what it
//                     finished); written by the slicer (retractions, adoptions). Each line ends
//                     with <TAB>XXH3 of the line before it, so a torn or damaged line is ignored
//                     (its partition simply runs again):
//     D<TAB>K<TAB>SHA256<TAB>CHECK
//     R<TAB>K<TAB>NAME<TAB>INPUT,STAMPS<TAB>OUTPUT,STAMPS<TAB>CHECK
//     X<TAB>NAME<TAB>CHECK        retracted: its input is gone and its outputs were removed
//     V<TAB>NAME<TAB>CHECK        vanished: its input disappeared between slicing and its turn
//
// Input stamps follow the unit's external partitioned inputs in order, output stamps every
// output of its nodes in order (intermediates too). Names escape '\', tab, LF and CR as \\, \t,
// \n, \r. A later segment wins over an earlier one, and over the base unless the base's record
// is of a newer generation (a segment left behind by a fold that crashed before removing it).
// Reading a million records costs one read of the base (about 60 MB) and no allocation per
// record. Looking up one partition (lookup(), for `why`) reads the files through a small
// buffer instead of holding them, and parses only the lines that can matter: the definitions,
// and the lines whose name field is the partition's.
#pragma once

#include "steppar/owned_descriptor.hpp"

#include "steppar/error.hpp"
#include "steppar/stamp.hpp"
#include "steppar/state.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace steppar {

/// One partition's record, as read from the ledger.
struct LedgerEntry {
    std::string name;
    std::uint32_t definition = 0;  ///< index into Ledger::definitions()
    std::string_view inputs;       ///< stamps as text (compare with stamps_text())
    std::string_view outputs;
    std::uint64_t generation = 0;  ///< the plan generation that made it
};

/// The text of a row of stamps, as records hold them.
std::string stamps_text(const FileStamp* stamps, std::size_t count);
/// Parses a row of stamps; false when the text is not one of `count` stamps.
bool parse_stamps(std::string_view text, std::vector<FileStamp>& stamps, std::size_t count);

/// fold() of a Ledger that lookup() read: it holds one partition's record at most, and a base
/// written from it would lose every other one.
class PartialLedgerError : public StateError {
public:
    using StateError::StateError;
};

class Ledger {
public:
    /// The unit's ledger: the base with every later segment laid over it. A damaged base is
    /// reported through `damaged` and read as empty (every partition then runs again); a
    /// segment that exists but cannot be read throws StateError (its records and retractions
    /// would be lost, and a fold would delete it). fold() removes only the segments read.
    static Ledger load(const StateLayout& state, std::string_view unit);
    /// The record of one partition as load() would give it (the same files, checks, errors and
    /// precedence, the same definitions() and generation()), without reading every record: it
    /// holds that record or none. Such a ledger is a partial view: fold() throws
    /// PartialLedgerError, fold_is_due() is false and segment_lines() counts nothing.
    static Ledger lookup(const StateLayout& state, std::string_view unit, const std::string& name);

    std::size_t size() const noexcept { return records_.size(); }
    /// Record `i` in name order.
    LedgerEntry entry(std::size_t i) const;
    /// The index of the record of `name`, or size() when there is none (a binary search).
    std::size_t find(const std::string& name) const;
    const std::vector<std::string>& definitions() const noexcept { return definitions_; }

    /// The highest plan generation the ledger has seen (0: none).
    std::uint64_t generation() const noexcept { return generation_; }
    /// Segment lines read on top of the base, and segment files: when folding pays off.
    std::size_t segment_lines() const noexcept { return segment_lines_; }
    std::size_t segment_files() const noexcept { return segment_paths_.size(); }
    /// Why the base could not be used ("" when it was fine or absent).
    const std::string& damaged() const noexcept { return damaged_; }

    /// Whether folding the segments into a new base is worth its cost now: when they hold a
    /// quarter as many lines as the base, or there are many files of them.
    bool fold_is_due() const noexcept;
    /// fold_is_due() judged from file sizes alone, without reading the ledger.
    static bool fold_is_due_on_disk(const StateLayout& state, std::string_view unit);
    /// Writes everything into a new base and removes the segments it holds.
    void fold(const StateLayout& state, std::string_view unit) const;

private:
    template <class OnBaseLine, class OnSegmentLine>
    static Ledger read(const StateLayout& state, std::string_view unit, bool partial, OnBaseLine&& on_base_line,
                       OnSegmentLine&& on_segment_line);
    struct Source {
        std::string text;
        std::uint64_t generation = 0;  ///< a segment's (the base's records carry their own)
        std::vector<std::uint32_t> definitions;  ///< this file's K -> index into definitions_
    };
    struct Record {
        const char* line;  ///< the "R\t..." line (in a source's text)
        std::uint32_t source;
    };
    std::uint32_t definition_index(std::string_view digest);
    std::string name_at(std::size_t i) const;
    void base_definition(Source& source, std::string_view line);
    char segment_line(Source& source, std::string_view line, std::string_view& name);

    std::vector<Source> sources_;  // [0]: the base; then segments in order
    std::vector<Record> records_;
    std::vector<std::string> definitions_;
    std::map<std::string, std::uint32_t, std::less<>> definition_numbers_;
    std::vector<std::filesystem::path> segment_paths_;
    std::uint64_t generation_ = 0;  ///< also what a fold records as folded "through"
    std::size_t base_records_ = 0, segment_lines_ = 0;
    std::string damaged_;
    bool partial_ = false;  ///< read by lookup()
};

/// One line of a segment, for the barrier's check of what a slice did.
struct SegmentLine {
    char kind;  ///< 'R' (done), 'X' (retracted) or 'V' (vanished)
    std::string name;
    std::uint32_t definition = 0;  ///< R: index into Segment::definitions
};
/// A segment file as read: its intact lines in file order and its definition digests.
struct Segment {
    std::vector<SegmentLine> lines;
    std::vector<std::string> definitions;
};
/// Every intact line of one segment file (none when it does not exist).
Segment read_segment(const std::filesystem::path& path);

/// Appends records to one segment file; each call is one write(2).
class LedgerAppender {
public:
    /// Opens (creating) the segment; continues the numbering of definitions already in it, past
    /// any number a damaged line may hold. Throws StateError when the segment exists but cannot
    /// be read (its numbers would be given again).
    explicit LedgerAppender(std::filesystem::path path);
    ~LedgerAppender();
    LedgerAppender(const LedgerAppender&) = delete;
    LedgerAppender& operator=(const LedgerAppender&) = delete;

    /// The number of a definition digest in this file (writes its D line the first time).
    std::uint32_t define(std::string_view digest);
    void record(std::string_view name, std::uint32_t definition, const FileStamp* inputs, std::size_t input_count,
                const FileStamp* outputs, std::size_t output_count);
    void retracted(std::string_view name);
    void vanished(std::string_view name);
    const std::filesystem::path& path() const noexcept { return path_; }

private:
    void append(std::string& line);
    void name_line(char kind, std::string_view name);
    void open_for_append();

    std::filesystem::path path_;
    OwnedDescriptor file_;  ///< checked before each write: a node may have closed or reused it
    std::map<std::string, std::uint32_t, std::less<>> defined_;
    std::uint64_t next_ = 0;  ///< the number the next new definition gets
    std::string line_;
};

/// Segment file names.
std::filesystem::path slice_segment(const StateLayout& state, std::string_view unit, std::uint64_t generation, int slice);
std::filesystem::path host_segment(const StateLayout& state, std::string_view unit, std::uint64_t generation);

}  // namespace steppar
