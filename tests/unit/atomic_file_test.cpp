// AtomicFile: what a node's output looks like on disk before, during and after commit().
#include <boost/test/unit_test.hpp>

#include "support.hpp"

#include "steppar/atomic_file.hpp"
#include "steppar/error.hpp"
#include "steppar/files.hpp"
#include "steppar/temporary_files.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;
using steppar_test::contains;
using steppar_test::error_of;

namespace {

struct AtomicFolder {
    fs::path dir = fs::temp_directory_path() / ("steppar-atomic-" + std::to_string(::getpid()));
    AtomicFolder() { fs::create_directories(dir); }
    ~AtomicFolder() { fs::remove_all(dir); }
    std::size_t entries() const { return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), {})); }
};

std::string content(const fs::path& p) { return steppar::read_file(p); }

// The pid of a process that has ended (and was reaped).
pid_t dead_pid() {
    const pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    ::waitpid(child, nullptr, 0);
    return child;
}

void make_old(const fs::path& p, int hours) { fs::last_write_time(p, fs::file_time_type::clock::now() - std::chrono::hours(hours)); }

}  // namespace

BOOST_AUTO_TEST_SUITE(atomic_file)

BOOST_AUTO_TEST_CASE(nothing_is_visible_before_commit_and_nothing_is_left_without_it) {
    AtomicFolder f;
    {
        steppar::AtomicFile out(f.dir / "a.txt");
        out.stream() << "hello";
        out.stream().flush();  // forces the temporary file into existence
        BOOST_TEST(!fs::exists(f.dir / "a.txt"));
    }
    BOOST_TEST(f.entries() == 0u, "an uncommitted file must leave no temporary behind");
}

BOOST_AUTO_TEST_CASE(small_large_and_empty_outputs_arrive_whole) {
    AtomicFolder f;
    const std::string large(200 * 1024 + 7, 'x');  // beyond the 64 KiB buffer, written through
    for (const std::string& text : {std::string("small\n"), large, std::string()}) {
        const fs::path target = f.dir / ("deep/er/" + std::to_string(text.size()));
        steppar::AtomicFile out(target);
        out.stream().write("", 0);  // an empty write before any other (UBSan checked this once)
        for (std::size_t at = 0; at < text.size(); at += 1000)  // many writes, some crossing the buffer's end
            out.stream().write(text.data() + at, static_cast<std::streamsize>(std::min<std::size_t>(1000, text.size() - at)));
        out.commit();
        BOOST_TEST(content(target) == text);
    }
    BOOST_TEST(fs::is_directory(f.dir / "deep/er"));
}

BOOST_AUTO_TEST_CASE(an_existing_file_is_replaced_not_truncated_even_when_empty) {
    AtomicFolder f;
    // The old output is a hard link to a file the user keeps: replacing it must not touch it.
    std::ofstream(f.dir / "kept.txt") << "user data";
    fs::create_hard_link(f.dir / "kept.txt", f.dir / "out.txt");
    for (const std::string& text : {std::string(), std::string("new")}) {
        steppar::AtomicFile out(f.dir / "out.txt");
        out.stream() << text;
        out.commit();
        BOOST_TEST(content(f.dir / "out.txt") == text);
        BOOST_TEST(content(f.dir / "kept.txt") == "user data");
    }
    BOOST_TEST(f.entries() == 2u);
}

BOOST_AUTO_TEST_CASE(a_folder_that_cannot_be_written_names_the_file) {
    AtomicFolder f;
    steppar::AtomicFile out(f.dir / "missing-is-a-file/x.txt");
    std::ofstream(f.dir / "missing-is-a-file") << "a file, not a folder";
    out.stream() << "data";
    BOOST_TEST(contains(error_of<steppar::StateError>([&] { out.commit(); }), "missing-is-a-file"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(atomic_file_names)

// A file name may use all 255 bytes of a folder entry; its temporary must still fit, and two
// long names that share their first 200 bytes must not share temporaries.
BOOST_AUTO_TEST_CASE(a_255_byte_name_gets_a_temporary_that_fits) {
    AtomicFolder f;
    const std::string a = std::string(200, 'a') + std::string(55, 'x'), b = std::string(200, 'a') + std::string(55, 'y');
    {
        steppar::AtomicFile first((f.dir / a).string()), second((f.dir / b).string());
        first.stream() << std::string(70000, '1');  // more than the buffer: the temporary exists now
        second.stream() << std::string(70000, '2');
        std::vector<std::string> temporaries;
        for (const auto& e : fs::directory_iterator(f.dir)) temporaries.push_back(e.path().filename().string());
        BOOST_REQUIRE_EQUAL(temporaries.size(), 2u);
        for (const auto& t : temporaries) {
            BOOST_TEST(t.size() <= 255u, t);
            BOOST_TEST(steppar::is_temporary_name(t), t);
        }
        BOOST_TEST(temporaries[0] != temporaries[1]);
        first.commit();
        second.commit();
    }
    BOOST_TEST(content(f.dir / a) == std::string(70000, '1'));
    BOOST_TEST(content(f.dir / b) == std::string(70000, '2'));
    // A stale temporary of the long name is found by its file name, as for a file dataset.
    const std::string dead_writer = ".steppar-tmp." + steppar::temporary_host_tag() + "." + std::to_string(dead_pid()) + ".0";
    std::ofstream(f.dir / ("." + std::string(200, 'a') + dead_writer)) << "stale, another name";
    {
        steppar::AtomicFile dead((f.dir / a).string());
        dead.stream() << std::string(70000, '3');
        std::string temporary;
        for (const auto& e : fs::directory_iterator(f.dir))
            if (e.path().filename().string().find("~") != std::string::npos) temporary = e.path().filename().string();
        BOOST_REQUIRE(!temporary.empty());
        const std::string stale = temporary.substr(0, temporary.find(".steppar-tmp.")) + dead_writer;
        std::ofstream(f.dir / stale) << "left by a dead writer";
        BOOST_TEST(steppar::remove_stale_temporaries(f.dir, a) == 1u);
        BOOST_TEST(!fs::exists(f.dir / stale));
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(temporary_names)

// ".<name>.steppar-tmp.<host>.<pid>.<n>": the host tag (boot id and pid namespace) says where
// the pid may be asked about.
BOOST_AUTO_TEST_CASE(a_temporary_names_its_host_and_pid) {
    const std::string tag = steppar::temporary_host_tag();
    BOOST_TEST(tag.size() == 16u);
    BOOST_TEST(tag.find_first_not_of("0123456789abcdef") == std::string::npos, tag);
    BOOST_TEST(steppar::temporary_host_tag() == tag, "one process, one tag");
    const std::string name = steppar::temporary_name_for("out/counts/a.json");
    const std::string start = "out/counts/.a.json.steppar-tmp." + tag + "." + std::to_string(::getpid()) + ".";
    BOOST_TEST(name.rfind(start, 0) == 0u, name);
    BOOST_TEST(name.substr(start.size()).find_first_not_of("0123456789") == std::string::npos, name);
    BOOST_TEST(steppar::temporary_name_for("out/counts/a.json") != name);
    BOOST_TEST(steppar::is_temporary_name(name.substr(name.rfind('/') + 1)));
    BOOST_TEST(steppar::is_temporary_name(".a.json.steppar-tmp.4242.0"), "an earlier release's");
    for (const char* partition : {"a.json", ".hidden", "a.json.steppar-tmp.4242.0", ""}) BOOST_TEST(!steppar::is_temporary_name(partition), partition);
    // A child of fork() lives in the same pid namespace: the same tag, its own pid.
    int pipe_fds[2];
    BOOST_REQUIRE(::pipe(pipe_fds) == 0);
    const pid_t child = ::fork();
    if (child == 0) {
        const std::string in_child = steppar::temporary_host_tag() + " " + steppar::temporary_name_for("x");
        (void)!::write(pipe_fds[1], in_child.data(), in_child.size());
        ::_exit(0);
    }
    ::close(pipe_fds[1]);
    char buffer[512] = {};
    const ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer - 1);
    ::close(pipe_fds[0]);
    ::waitpid(child, nullptr, 0);
    const std::string in_child(buffer, n > 0 ? static_cast<std::size_t>(n) : 0);
    BOOST_TEST(in_child.rfind(tag + " .x.steppar-tmp." + tag + "." + std::to_string(child) + ".", 0) == 0u, in_child);
}

// A sweep removes what no writer will finish, and nothing another machine (or pid namespace)
// may still be writing: its own host's temporaries whose writer is gone, and any temporary
// untouched for 24 hours.
BOOST_AUTO_TEST_CASE(a_sweep_judges_only_its_own_hosts_pids_and_otherwise_the_age) {
    AtomicFolder f;
    const std::string own = ".steppar-tmp." + steppar::temporary_host_tag() + ".";
    const std::string other_host = "0123456789abcdef";
    BOOST_REQUIRE(other_host != steppar::temporary_host_tag());
    const std::string alive = std::to_string(::getpid()), dead = std::to_string(dead_pid());
    struct Case {
        std::string name;
        int age_hours;
        bool removed;
    };
    const std::vector<Case> cases = {
        {".own-live" + own + alive + ".0", 0, false},
        {".own-dead" + own + dead + ".0", 0, true},
        {".own-live-old" + own + alive + ".1", 25, true},  // its pid may have been reused since
        {".other-dead.steppar-tmp." + other_host + "." + dead + ".0", 0, false},  // that pid is not ours to ask about
        {".other-old.steppar-tmp." + other_host + "." + dead + ".0", 25, true},
        {".other-recent.steppar-tmp." + other_host + "." + dead + ".0", 23, false},
        {".release-before.steppar-tmp." + dead + ".0", 0, false},  // no host: only the age says
        {".release-before-old.steppar-tmp." + dead + ".0", 25, true},
        {".garbled.steppar-tmp." + steppar::temporary_host_tag() + ".x1.0", 0, false},
        {".hidden-old", 25, false},  // not a temporary
        {"partition-old.json", 25, false},
    };
    for (const auto& c : cases) {
        std::ofstream(f.dir / c.name) << "half";
        if (c.age_hours) make_old(f.dir / c.name, c.age_hours);
    }
    BOOST_TEST(steppar::remove_stale_temporaries(f.dir) == 4u);
    for (const auto& c : cases) BOOST_TEST(fs::exists(f.dir / c.name) == !c.removed, c.name);
    // One by one, as the slicer's scan does.
    std::ofstream(f.dir / (".again" + own + dead + ".0")) << "half";
    BOOST_TEST(!steppar::remove_if_stale_temporary((f.dir / cases[0].name).string()));
    BOOST_TEST(!steppar::remove_if_stale_temporary((f.dir / cases[3].name).string()));
    BOOST_TEST(steppar::remove_if_stale_temporary((f.dir / (".again" + own + dead + ".0")).string()));
    BOOST_TEST(!steppar::remove_if_stale_temporary((f.dir / "partition-old.json").string()));
}

BOOST_AUTO_TEST_SUITE_END()
