// The ledger's files: records appended by slices, torn and damaged lines ignored, later
// generations winning, folding into a base and reading it back; one partition looked up as
// load() reads it; stamps' text form; the encoding of intermediate partition names.
#include <boost/test/unit_test.hpp>

#include "support.hpp"

#include "steppar/atomic_file.hpp"
#include "steppar/catalog.hpp"
#include "steppar/error.hpp"
#include "steppar/files.hpp"
#include "steppar/ledger.hpp"
#include "steppar/stamp.hpp"
#include "steppar/state.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <fcntl.h>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace steppar;

namespace {

struct LedgerFolder {
    fs::path path;
    LedgerFolder() {
        char name[] = "/tmp/steppar-ledger-XXXXXX";
        const char* made = ::mkdtemp(name);
        BOOST_REQUIRE(made != nullptr);
        path = made;
    }
    ~LedgerFolder() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

const std::string digest_a(64, 'a'), digest_b(64, 'b');

FileStamp stamp(std::int64_t size, std::int64_t mtime, std::int64_t ctime) { return {size, mtime, ctime}; }

// Appends one record of `name` with input/output stamps made from `seed`.
void append(LedgerAppender& out, const std::string& name, const std::string& digest, std::int64_t seed) {
    const FileStamp in = stamp(seed, 1000 + seed, 1000 + seed), result = stamp(2 * seed, 5000 + seed, 5003 + seed);
    out.record(name, out.define(digest), &in, 1, &result, 1);
}

std::vector<std::string> names_of(const Ledger& ledger) {
    std::vector<std::string> names;
    for (std::size_t i = 0; i < ledger.size(); ++i) names.push_back(ledger.entry(i).name);
    return names;
}

// Checks that Ledger::lookup(name) gives what load() gives for `name`: the same record (or
// none), definition digest, generation and damage.
void same_as_load(const StateLayout& state, const std::string& name) {
    const Ledger whole = Ledger::load(state, "u");
    const Ledger one = Ledger::lookup(state, "u", name);
    BOOST_TEST_CONTEXT("partition '" << name << "'") {
        BOOST_TEST(one.generation() == whole.generation());
        BOOST_TEST(one.damaged() == whole.damaged());
        const std::size_t at = whole.find(name);
        BOOST_TEST_REQUIRE(one.size() == (at == whole.size() ? 0u : 1u));
        BOOST_TEST(one.find(name) == (at == whole.size() ? one.size() : 0u));
        if (at == whole.size()) return;
        const LedgerEntry a = whole.entry(at), b = one.entry(0);
        BOOST_TEST(b.name == a.name);
        BOOST_TEST(b.inputs == a.inputs);
        BOOST_TEST(b.outputs == a.outputs);
        BOOST_TEST(b.generation == a.generation);
        const auto digest = [](const Ledger& l, std::uint32_t k) { return k < l.definitions().size() ? l.definitions()[k] : std::string("(none)"); };
        BOOST_TEST(digest(one, b.definition) == digest(whole, a.definition));
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ledger)

BOOST_AUTO_TEST_CASE(stamps_round_trip_through_their_text_including_a_ctime_before_the_mtime) {
    for (const FileStamp s : {stamp(0, 0, 0), stamp(123456789, 1795988629923500912, 1795988629931500912),
                              stamp(5, 2000, 1000), FileStamp{}}) {
        std::string text;
        append_stamp(text, s);
        FileStamp back{7, 7, 7};
        BOOST_TEST(parse_stamp(text, back), text);
        BOOST_TEST((back == s), text);
    }
    FileStamp ignored;
    for (const char* bad : {"", "1:2", "x:1:0", "1:2:3:4", "-1:2:0"}) BOOST_TEST(!parse_stamp(bad, ignored), bad);
    std::vector<FileStamp> row;
    const FileStamp two[] = {stamp(1, 2, 3), FileStamp{}};
    BOOST_TEST(parse_stamps(stamps_text(two, 2), row, 2));
    BOOST_TEST((row[0] == two[0] && row[1] == two[1]));
    BOOST_TEST(!parse_stamps(stamps_text(two, 2), row, 3));
}

BOOST_AUTO_TEST_CASE(records_appended_by_slices_are_read_back_in_name_order_and_a_lookup_never_folds) {
    LedgerFolder f;
    const StateLayout state(f.path);
    {
        LedgerAppender s1(slice_segment(state, "u", 3, 1));
        append(s1, "m", digest_a, 2);
        append(s1, "tab\there\nand\\slash", digest_a, 3);
        LedgerAppender s0(slice_segment(state, "u", 3, 0));
        append(s0, "a", digest_b, 1);
    }
    const Ledger ledger = Ledger::load(state, "u");
    BOOST_TEST(ledger.generation() == 3u);
    BOOST_TEST((names_of(ledger) == std::vector<std::string>{"a", "m", "tab\there\nand\\slash"}));
    const LedgerEntry a = ledger.entry(0);
    BOOST_TEST(ledger.definitions()[a.definition] == digest_b);
    BOOST_TEST(a.generation == 3u);
    const FileStamp in = stamp(1, 1001, 1001);
    BOOST_TEST(a.inputs == stamps_text(&in, 1));
    BOOST_TEST(ledger.find("m") == 1u);
    BOOST_TEST(ledger.find("zzz") == ledger.size());
    const Segment segment = read_segment(slice_segment(state, "u", 3, 1));
    BOOST_REQUIRE(segment.lines.size() == 2u);
    BOOST_TEST(segment.lines[1].name == "tab\there\nand\\slash");
    BOOST_TEST(segment.definitions[segment.lines[0].definition] == digest_a);

    // A ledger read for one partition never writes: a base folded from it would hold that
    // record alone.
    const Ledger one = Ledger::lookup(state, "u", "m");
    BOOST_TEST(one.size() == 1u);
    BOOST_TEST(!one.fold_is_due());
    BOOST_TEST(steppar_test::contains(steppar_test::error_of<PartialLedgerError>([&] { one.fold(state, "u"); }), "read for one partition"));
    BOOST_TEST(!fs::exists(f.path / "units/u/ledger/base.tsv"));
    BOOST_TEST((names_of(Ledger::load(state, "u")) == names_of(ledger)));
}

BOOST_AUTO_TEST_CASE(a_torn_or_damaged_line_is_ignored_and_the_next_writer_starts_clean) {
    LedgerFolder f;
    const StateLayout state(f.path);
    const fs::path path = slice_segment(state, "u", 1, 0);
    {
        LedgerAppender out(path);
        append(out, "a", digest_a, 1);
        append(out, "b", digest_a, 2);
        append(out, "c", digest_a, 3);
    }
    std::string text = read_file(path);
    text[text.find("\tb\t") + 1] = 'B';  // damaged in place: its checksum no longer matches
    text.resize(text.size() - 5);         // and the last line torn, as by a killed writer
    write_file_atomically(path, text);
    BOOST_TEST((names_of(Ledger::load(state, "u")) == std::vector<std::string>{"a"}));
    {
        LedgerAppender again(path);  // a retry appends after the torn line
        append(again, "d", digest_a, 4);
    }
    BOOST_TEST((names_of(Ledger::load(state, "u")) == std::vector<std::string>{"a", "d"}));
}

// A damaged D line must not free its number: records that name it would otherwise be read
// with another definition and pass as up to date. Numbers continue past it, and past every
// line when one is damaged beyond reading its number.
BOOST_AUTO_TEST_CASE(a_damaged_definition_line_does_not_free_its_number) {
    LedgerFolder f;
    const StateLayout state(f.path);
    const fs::path path = slice_segment(state, "u", 1, 0);
    {
        LedgerAppender out(path);
        append(out, "a", digest_a, 1);  // D 0 = digest_a
    }
    std::string text = read_file(path);
    text[text.find(digest_a)] = 'x';  // the D line's checksum no longer matches
    write_file_atomically(path, text);
    {
        LedgerAppender again(path);
        append(again, "b", digest_b, 2);  // D 1, never D 0 again
    }
    const Ledger ledger = Ledger::load(state, "u");
    BOOST_TEST((names_of(ledger) == std::vector<std::string>{"a", "b"}));
    // "a" names a definition that no longer reads: it is not digest_b's (it runs again).
    BOOST_TEST(ledger.entry(0).definition >= ledger.definitions().size());
    BOOST_TEST(ledger.definitions()[ledger.entry(1).definition] == digest_b);

    // Damaged beyond reading its number ("D\t" itself hit): numbering goes past every line.
    const fs::path other = slice_segment(state, "u", 2, 0);
    {
        LedgerAppender out(other);
        append(out, "c", digest_a, 1);
    }
    text = read_file(other);
    text[0] = 'Q';
    write_file_atomically(other, text);
    {
        LedgerAppender again(other);
        append(again, "d", digest_b, 2);
    }
    const Ledger later = Ledger::load(state, "u");
    BOOST_TEST(later.entry(later.find("c")).definition >= later.definitions().size());
    BOOST_TEST(later.definitions()[later.entry(later.find("d")).definition] == digest_b);
}

// A segment that is there but cannot be read is an error naming it, never skipped (its
// records and retractions would be lost) nor deleted by a fold; the appender refuses it too,
// and lookup() fails with load()'s very error.
BOOST_AUTO_TEST_CASE(an_unreadable_segment_is_an_error_and_is_never_folded_away) {
    LedgerFolder f;
    const StateLayout state(f.path);
    {
        LedgerAppender out(slice_segment(state, "u", 1, 0));
        append(out, "a", digest_a, 1);
    }
    const fs::path unreadable = slice_segment(state, "u", 2, 0);
    fs::create_directories(unreadable);  // a read(2) of it fails (EISDIR), as an unreadable disk block would
    const std::string error = steppar_test::error_of<StateError>([&] { (void)Ledger::load(state, "u"); });
    BOOST_TEST(steppar_test::contains(error, unreadable.string()));
    BOOST_TEST(steppar_test::contains(error, "remove that file"));
    BOOST_TEST(steppar_test::error_of<StateError>([&] { (void)Ledger::lookup(state, "u", "a"); }) == error);
    BOOST_TEST(fs::exists(unreadable));
    BOOST_TEST(steppar_test::contains(steppar_test::error_of<StateError>([&] { LedgerAppender again(unreadable); }), "cannot continue that ledger segment"));
    fs::remove(unreadable);
    const Ledger ledger = Ledger::load(state, "u");
    ledger.fold(state, "u");
    BOOST_TEST((names_of(Ledger::load(state, "u")) == std::vector<std::string>{"a"}));
}

BOOST_AUTO_TEST_CASE(later_generations_win_retractions_remove_and_a_fold_keeps_the_same_records) {
    LedgerFolder f;
    const StateLayout state(f.path);
    {
        LedgerAppender g1(slice_segment(state, "u", 1, 0));
        append(g1, "a", digest_a, 1);
        append(g1, "b", digest_a, 2);
        append(g1, "c", digest_a, 3);
        LedgerAppender g2(slice_segment(state, "u", 2, 0));
        append(g2, "b", digest_b, 20);
        LedgerAppender host(host_segment(state, "u", 2));
        host.retracted("c");
    }
    const Ledger before = Ledger::load(state, "u");
    BOOST_TEST((names_of(before) == std::vector<std::string>{"a", "b"}));
    BOOST_TEST(before.definitions()[before.entry(1).definition] == digest_b);
    BOOST_TEST(before.fold_is_due());
    BOOST_TEST(Ledger::fold_is_due_on_disk(state, "u"));
    before.fold(state, "u");
    BOOST_TEST(!fs::exists(slice_segment(state, "u", 1, 0)), "folded segments are removed");
    BOOST_TEST(!Ledger::fold_is_due_on_disk(state, "u"));
    const Ledger after = Ledger::load(state, "u");
    BOOST_TEST((names_of(after) == names_of(before)));
    for (std::size_t i = 0; i < after.size(); ++i) {
        BOOST_TEST(after.entry(i).inputs == before.entry(i).inputs);
        BOOST_TEST(after.entry(i).outputs == before.entry(i).outputs);
        BOOST_TEST(after.entry(i).generation == before.entry(i).generation);
        BOOST_TEST(after.definitions()[after.entry(i).definition] == before.definitions()[before.entry(i).definition]);
    }
    BOOST_TEST(after.entry(1).generation == 2u);
    BOOST_TEST(after.generation() == 2u);

    // A segment left behind by a fold that crashed before removing it is older than the base's
    // record: it must not bring back the old one.
    {
        LedgerAppender stale(slice_segment(state, "u", 1, 0));
        append(stale, "b", digest_a, 2);
    }
    const Ledger replayed = Ledger::load(state, "u");
    BOOST_TEST(replayed.definitions()[replayed.entry(1).definition] == digest_b);
    // A newer generation written after the fold does win.
    {
        LedgerAppender newer(slice_segment(state, "u", 3, 0));
        append(newer, "b", digest_a, 30);
    }
    const Ledger latest = Ledger::load(state, "u");
    BOOST_TEST(latest.definitions()[latest.entry(1).definition] == digest_a);
    BOOST_TEST(latest.entry(1).generation == 3u);
}

// lookup() reads one partition's record without building the whole ledger: over a base of
// several buffers' worth, segments of later generations laid over it (a record replaced, one
// retracted, a stale segment older than the base ignored), torn and damaged lines, and names
// that need escaping, it gives exactly what load() gives.
BOOST_AUTO_TEST_CASE(lookup_gives_the_record_load_gives_first_middle_last_absent_and_overridden) {
    LedgerFolder f;
    const StateLayout state(f.path);
    std::vector<std::string> names;
    for (int i = 0; i < 5000; ++i) names.push_back("part-" + std::to_string(100000 + i));  // ~300 KB: many pieces
    names.push_back("tab\there\nand\\slash");
    std::sort(names.begin(), names.end());
    {
        LedgerAppender g1(slice_segment(state, "u", 1, 0));
        for (std::size_t i = 0; i < names.size(); ++i) append(g1, names[i], digest_a, static_cast<std::int64_t>(i));
    }
    Ledger::load(state, "u").fold(state, "u");
    BOOST_TEST_REQUIRE(!fs::exists(slice_segment(state, "u", 1, 0)));
    {
        LedgerAppender stale(slice_segment(state, "u", 1, 0));  // older than the base: ignored
        append(stale, "part-100001", digest_b, 77);
        LedgerAppender g2(slice_segment(state, "u", 2, 1));
        append(g2, "part-102500", digest_b, 88);  // replaced
        append(g2, "part-102501", digest_b, 89);
        append(g2, "part-102501", digest_a, 90);  // a later line of the same segment wins
        append(g2, "zz-new", digest_b, 91);       // only in a segment
        append(g2, "part-103000", digest_b, 92);  // replaced, then retracted by a later generation
        LedgerAppender host(host_segment(state, "u", 3));
        host.retracted("part-103000");
        host.retracted("tab\there\nand\\slash");
        host.vanished("part-100002");
        LedgerAppender g3(slice_segment(state, "u", 3, 0));
        append(g3, "part-104000", digest_b, 93);
        append(g3, "part-104001", digest_b, 94);
    }
    // A damaged line and a torn one: ignored by both.
    const fs::path g3 = slice_segment(state, "u", 3, 0);
    std::string text = read_file(g3);
    text[text.find("part-104000") + 5] = 'X';
    text.resize(text.size() - 3);
    write_file_atomically(g3, text);

    for (const std::string& name : {names.front(), names[2500], names.back(), std::string("part-100001"), std::string("part-100002"),
                                    std::string("part-102500"), std::string("part-102501"), std::string("zz-new"), std::string("part-103000"),
                                    std::string("tab\there\nand\\slash"), std::string("part-104000"), std::string("part-104001"),
                                    std::string("absent"), std::string("part-10000"), std::string("part-1000000")})
        same_as_load(state, name);
    const Ledger whole = Ledger::load(state, "u");
    BOOST_TEST(whole.find("part-102500") < whole.size());
    BOOST_TEST(whole.entry(whole.find("part-102500")).generation == 2u);  // the cases above are what they say
    BOOST_TEST(whole.find("part-103000") == whole.size());
    BOOST_TEST(whole.entry(whole.find("part-104000")).generation == 1u);  // its newer line is damaged,
    BOOST_TEST(whole.entry(whole.find("part-104001")).generation == 1u);  // and that one torn
    BOOST_TEST(whole.entry(whole.find("part-100001")).generation == 1u);
    BOOST_TEST(whole.definitions()[whole.entry(whole.find("part-102501")).definition] == digest_a);
}

// With no base (segments only) and with a damaged base, lookup() agrees with load() too.
BOOST_AUTO_TEST_CASE(lookup_agrees_with_load_without_a_base_and_with_a_damaged_one) {
    LedgerFolder f;
    const StateLayout state(f.path);
    same_as_load(state, "a");  // no ledger at all
    {
        LedgerAppender g1(slice_segment(state, "u", 1, 0));
        append(g1, "a", digest_a, 1);
        append(g1, "b", digest_b, 2);
    }
    same_as_load(state, "a");
    same_as_load(state, "b");
    Ledger::load(state, "u").fold(state, "u");
    {
        LedgerAppender g2(slice_segment(state, "u", 2, 0));
        append(g2, "c", digest_a, 3);
    }
    const fs::path base = f.path / "units/u/ledger/base.tsv";
    std::string text = read_file(base);
    text[text.find("\ta\t") + 1] = 'z';
    write_file_atomically(base, text);
    BOOST_TEST(steppar_test::contains(Ledger::lookup(state, "u", "a").damaged(), "is damaged"));
    for (const char* name : {"a", "b", "c"}) same_as_load(state, name);
    text.resize(text.size() - 1);  // torn: no end line
    write_file_atomically(base, text);
    for (const char* name : {"a", "c"}) same_as_load(state, name);
}

BOOST_AUTO_TEST_CASE(a_damaged_base_is_reported_and_read_as_empty) {
    LedgerFolder f;
    const StateLayout state(f.path);
    {
        LedgerAppender g1(slice_segment(state, "u", 1, 0));
        append(g1, "a", digest_a, 1);
    }
    Ledger::load(state, "u").fold(state, "u");
    const fs::path base = f.path / "units/u/ledger/base.tsv";
    std::string text = read_file(base);
    text[text.find("\ta\t") + 1] = 'z';
    write_file_atomically(base, text);
    const Ledger damaged = Ledger::load(state, "u");
    BOOST_TEST(damaged.size() == 0u);
    BOOST_TEST(steppar_test::contains(damaged.damaged(), "is damaged"));
}

BOOST_AUTO_TEST_CASE(intermediate_names_encode_folders_so_a_partition_can_sit_beside_a_folder_of_its_name) {
    LedgerFolder f;
    Dataset d;
    d.name = "lower";
    d.path = f.path / "lower";
    d.suffix = ".p";
    d.folder_suffix = ".d";
    BOOST_TEST(d.partition_path("can") == (f.path / "lower/can.p").string());
    BOOST_TEST(d.partition_path("can/bcm") == (f.path / "lower/can.d/bcm.p").string());
    BOOST_TEST(d.partition_path("a/b/c") == (f.path / "lower/a.d/b.d/c.p").string());
    for (const char* name : {"can", "can/bcm", "can-x", "a/b/c"}) write_file_atomically(d.partition_path(name), name);
    write_file_atomically(f.path / "lower/stray", "not a partition");
    write_file_atomically(f.path / "lower/plain/x.p", "a folder without .d: not an encoded name");
    BOOST_TEST((list_partitions(d) == std::vector<std::string>{"a/b/c", "can", "can-x", "can/bcm"}));
    const auto scanned = scan_partitions(d);
    BOOST_REQUIRE(scanned.names.size() == 4u);
    BOOST_TEST(scanned.names[3] == "can/bcm");
    BOOST_TEST(scanned.stamps[3].size == 7);
}

BOOST_AUTO_TEST_CASE(listing_is_in_byte_order_across_folders) {
    LedgerFolder f;
    Dataset d;
    d.name = "docs";
    d.path = f.path;
    d.suffix = ".txt";
    for (const char* name : {"2024/b", "2024-summary", "2024.x", "2024/a/deep", "20", "a b", "Z"})
        write_file_atomically(d.partition_path(name), name);
    std::vector<std::string> expected = {"2024/b", "2024-summary", "2024.x", "2024/a/deep", "20", "a b", "Z"};
    std::sort(expected.begin(), expected.end());
    BOOST_TEST(list_partitions(d) == expected, boost::test_tools::per_element());
    BOOST_TEST(scan_partitions(d).names == expected, boost::test_tools::per_element());
}

// The walk runs on every usable core (folders listed, and big folders stat'ed in ranges, as
// tasks): what it finds must be what a plain recursive walk finds, names and stamps, in order.
BOOST_AUTO_TEST_CASE(the_parallel_walk_finds_what_a_plain_walk_finds) {
    LedgerFolder f;
    Dataset d;
    d.name = "docs";
    d.path = f.path;
    d.suffix = ".txt";
    std::vector<std::string> expected;
    for (int folder = 0; folder < 40; ++folder)
        for (int file = 0; file < 30; ++file)
            expected.push_back("f" + std::to_string(folder) + (folder % 3 ? "" : "/deeper") + "/p" + std::to_string(file));
    for (int file = 0; file < 5000; ++file) expected.push_back("flat/p" + std::to_string(file));  // stat'ed in ranges
    for (int file = 0; file < 10; ++file) expected.push_back("top" + std::to_string(file));
    for (std::size_t i = 0; i < expected.size(); ++i) write_file_atomically(d.partition_path(expected[i]), std::string(i % 7, 'x'));
    write_file_atomically(f.path / "flat/.hidden.txt", "never a partition");
    write_file_atomically(f.path / "f4/notes.md", "not of the suffix");
    write_file_atomically(f.path / "f7/.p1.txt.steppar-tmp.host.1.2", "an interrupted writer's");
    std::sort(expected.begin(), expected.end());

    BOOST_TEST(list_partitions(d) == expected, boost::test_tools::per_element());
    std::vector<std::string> temporaries;
    const auto scan = scan_partitions(d, false, &temporaries);
    BOOST_REQUIRE_EQUAL(scan.names.size(), expected.size());
    BOOST_TEST(scan.names == expected, boost::test_tools::per_element());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        const FileStamp now = stamp_of(d.partition_path(expected[i]).c_str());
        BOOST_TEST((scan.stamps[i].size == now.size && scan.stamps[i].mtime_ns == now.mtime_ns && scan.stamps[i].ctime_ns == now.ctime_ns),
                   expected[i]);
    }
    BOOST_TEST(temporaries == std::vector<std::string>{(f.path / "f7/.p1.txt.steppar-tmp.host.1.2").string()}, boost::test_tools::per_element());
    const auto bare = scan_partitions(d, false, nullptr, false);
    BOOST_TEST(bare.names == expected, boost::test_tools::per_element());
    BOOST_TEST(bare.stamps.empty());

    // A folder that cannot be listed fails the walk, naming it, whichever thread met it.
    fs::permissions(f.path / "f13", fs::perms::none);
    if (::access((f.path / "f13").c_str(), R_OK) != 0) {  // root reads it anyway
        BOOST_TEST(steppar_test::contains(steppar_test::error_of<StateError>([&] { scan_partitions(d); }),
                                          "dataset 'docs': cannot list '" + (f.path / "f13/").string() + "': Permission denied"));
    }
    fs::permissions(f.path / "f13", fs::perms::owner_all);
}

// Stamps on a network filesystem are read with open + fstat (NFS revalidates on open); on a
// local one a stat stays enough.
BOOST_AUTO_TEST_CASE(network_filesystems_are_told_apart_by_their_statfs_type) {
    for (const long magic : {0x6969L, 0x65735546L, 0xFF534D42L, 0xFE534D42L, 0x517BL, 0x0BD00BD0L, 0x47504653L})
        BOOST_TEST(steppar::is_network_filesystem(magic), std::hex << magic);
    for (const long magic : {0xEF53L /* ext4 */, 0x01021994L /* tmpfs */, 0x794C7630L /* overlay */, 0x58465342L /* xfs */,
                             0x9123683EL /* btrfs */})
        BOOST_TEST(!steppar::is_network_filesystem(magic), std::hex << magic);
}

// A link planted where a segment will be written is never written through; a segment whose
// descriptor a node closed (and whose number now names the node's own file) is opened again.
BOOST_AUTO_TEST_CASE(a_segment_is_never_written_through_a_link_or_a_reused_descriptor) {
    LedgerFolder f;
    const StateLayout state(f.path);
    const fs::path victim = f.path / "victim.txt", segment = slice_segment(state, "u", 1, 0);
    {
        std::ofstream(victim) << "precious\n";
    }
    fs::create_directories(segment.parent_path());
    fs::create_symlink(victim, segment);
    BOOST_CHECK_THROW(LedgerAppender{segment}, StateError);
    BOOST_TEST(read_file(victim) == "precious\n");
    fs::remove(segment);

    {
        LedgerAppender s0(segment);
        append(s0, "a", digest_a, 1);
        // As a node closing every descriptor from 3 up and opening a file of its own does.
        for (int fd = 3; fd < 64; ++fd)
            if (::fcntl(fd, F_GETFD) >= 0 && fs::read_symlink("/proc/self/fd/" + std::to_string(fd)) == segment) ::close(fd);
        const int node_file = ::open(victim.c_str(), O_WRONLY | O_APPEND);
        BOOST_REQUIRE(node_file >= 0);
        append(s0, "b", digest_a, 2);
        ::close(node_file);
    }
    BOOST_TEST(read_file(victim) == "precious\n");
    BOOST_TEST((names_of(Ledger::load(state, "u")) == std::vector<std::string>{"a", "b"}));
}

BOOST_AUTO_TEST_SUITE_END()
