// Scans through a watch window (watched_scan.hpp): the kept scan of the run before, with the
// window's paths looked at again, is what a walk finds now; and whatever breaks the chain (no
// kept scan of that token, a damaged one, a link met) is a walk.
#include "support.hpp"

#include <steppar/atomic_file.hpp>
#include <steppar/catalog.hpp>
#include <steppar/error.hpp>
#include <steppar/stamp.hpp>
#include <steppar/watched_scan.hpp>

#include <boost/test/unit_test.hpp>

#include <fstream>

using namespace steppar;
namespace fs = std::filesystem;

namespace {

struct Scanned {
    steppar_test::TempDir tmp;
    Dataset d;
    fs::path scans;
    Scanned() {
        d.name = "docs";
        d.kind = DatasetKind::partitioned;
        d.path = fs::canonical(tmp.path()) / "docs";
        d.suffix = ".txt";
        scans = fs::canonical(tmp.path()) / "watch/scans";
        for (int folder = 0; folder < 5; ++folder)
            for (int file = 0; file < 4; ++file) put("d" + std::to_string(folder) + "/p" + std::to_string(file) + ".txt", "words");
        put("top.txt", "on top");
    }
    void put(const std::string& rel, const std::string& text) { write_file_atomically(d.path / rel, text); }
    std::string at(const std::string& rel) const { return (d.path / rel).string(); }
    PartitionScan through(const std::string& token, const std::string& since, std::vector<std::string> paths) {
        std::sort(paths.begin(), paths.end());
        return scan_watched(d, WatchWindow{token, since, paths}, scans);
    }
};

bool same(const PartitionScan& a, const PartitionScan& b) { return a.names == b.names && a.stamps == b.stamps; }

}  // namespace

BOOST_AUTO_TEST_SUITE(watched_scan)

BOOST_AUTO_TEST_CASE(the_kept_scan_and_the_changed_paths_are_what_a_walk_finds) {
    Scanned s;
    BOOST_TEST(same(s.through("t1", "", {}), scan_partitions(s.d)));  // the first: a walk, kept
    // Every kind of change, each path in the window.
    s.put("new.txt", "a new file");
    s.put("d0/p1.txt", "other words, longer");
    fs::remove(s.d.path / "d1/p2.txt");
    fs::rename(s.d.path / "d2", s.d.path / "d2-renamed");
    fs::create_directories(s.d.path / "fresh/deeper");
    s.put("fresh/deeper/x.txt", "deep");
    fs::remove_all(s.d.path / "d3");
    s.put("notes.md", "not of the suffix");
    s.put(".hidden.txt", "never a partition");
    const PartitionScan patched = s.through("t2", "t1",
                                            {s.at("new.txt"), s.at("d0/p1.txt"), s.at("d1/p2.txt"), s.at("d2"), s.at("d2-renamed"), s.at("fresh"),
                                             s.at("fresh/deeper"), s.at("fresh/deeper/x.txt"), s.at("d3"), s.at("d3/p0.txt"), s.at("notes.md"),
                                             s.at(".hidden.txt"), "/elsewhere/p.txt"});
    const PartitionScan walked = scan_partitions(s.d);
    BOOST_TEST(patched.names == walked.names, boost::test_tools::per_element());
    BOOST_TEST(same(patched, walked));
    // Runs after runs: each kept scan is the base of the first with the changes since over it.
    for (int run = 3; run < 8; ++run) {
        const std::string name = "round-" + std::to_string(run) + ".txt";
        s.put(name, std::string(static_cast<std::size_t>(run), 'r'));
        s.put("new.txt", "edited in round " + std::to_string(run));
        std::vector<std::string> paths = {s.at(name), s.at("new.txt")};
        if (run == 5) {
            fs::remove(s.d.path / "round-3.txt");
            fs::remove_all(s.d.path / "fresh");
            paths.insert(paths.end(), {s.at("round-3.txt"), s.at("fresh")});
        }
        BOOST_TEST(same(s.through("t" + std::to_string(run), "t" + std::to_string(run - 1), paths), scan_partitions(s.d)), "round " << run);
    }
    // The kept scan is trusted, not walked: a change left out of the window is not seen.
    const PartitionScan before = scan_partitions(s.d);
    s.put("d4/p0.txt", "changed with no event told");
    BOOST_TEST(same(s.through("t8", "t7", {}), before));
    BOOST_TEST(same(s.through("t9", "t8", {}), before));
    // A window whose "since" is not the kept scan's token: a walk.
    BOOST_TEST(same(s.through("t10", "t8", {}), scan_partitions(s.d)));
}

BOOST_AUTO_TEST_CASE(a_damaged_kept_scan_or_a_link_means_a_walk) {
    Scanned s;
    s.through("t1", "", {});
    s.put("d4/p0.txt", "changed with no event told");
    for (const auto& entry : fs::directory_iterator(s.scans))
        if (entry.path().extension() == ".scan") {
            std::fstream f(entry.path(), std::ios::in | std::ios::out | std::ios::binary);
            f.seekp(40);
            f.put('#');
        }
    BOOST_TEST(same(s.through("t2", "t1", {}), scan_partitions(s.d)));  // its checksum fails: walked, and kept again

    // A link: what changes behind it is not told, so its scan is not kept.
    s.put("../elsewhere.txt", "first");
    fs::create_symlink(s.d.path.parent_path() / "elsewhere.txt", s.d.path / "linked.txt");
    BOOST_TEST(same(s.through("t3", "t2", {s.at("linked.txt")}), scan_partitions(s.d)));
    std::ofstream(s.d.path.parent_path() / "elsewhere.txt") << "changed behind the link, no event in the folder";
    BOOST_TEST(same(s.through("t4", "t3", {}), scan_partitions(s.d)));
}

BOOST_AUTO_TEST_CASE(a_window_reads_back) {
    steppar_test::TempDir tmp;
    const fs::path file = tmp.path() / "watch/window.tsv";
    write_watch_window(file, {"w.1", "w.0", {"/a/b\tc", "/a/new\nline", "/a/x"}});
    const WatchWindow back = read_watch_window(file);
    BOOST_TEST(back.token == "w.1");
    BOOST_TEST(back.since == "w.0");
    BOOST_TEST(back.paths == (std::vector<std::string>{"/a/b\tc", "/a/new\nline", "/a/x"}), boost::test_tools::per_element());
    std::ofstream(file, std::ios::trunc) << "steppar-watch-window 1\ntoken\tw.1\nsince\t\n/a/x\n";  // torn: no end line
    BOOST_TEST(steppar_test::contains(steppar_test::error_of<StateError>([&] { read_watch_window(file); }), "is damaged"));
}

BOOST_AUTO_TEST_SUITE_END()
