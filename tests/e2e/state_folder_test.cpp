// The state folder is steppar's alone: a --state-dir that is the project, a dataset, inside one
// or holding one, a symbolic link, or a folder of someone else's files is refused (exit 2,
// naming both) before anything is written or deleted; `clean` removes what steppar wrote and
// keeps the rest.
#include "harness.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <unistd.h>

using namespace e2e;

namespace {

const char* guarded_pipeline = R"(plugins: {builtin: steppar_builtin}
catalog:
  docs:   {type: partitioned, path: in, suffix: .txt}
  counts: {type: partitioned, path: out, suffix: .json}
nodes:
  - {name: count, func: builtin.wc, inputs: [docs], outputs: [counts], slices: 2}
)";

struct GuardedProject {
    Workspace ws{guarded_pipeline};
    GuardedProject() {
        write_file(ws.dir / "in/a.txt", "one two\n");
        write_file(ws.dir / "in/b.txt", "three\n");
    }
    Result with_state(const std::string& command, const std::string& state) const {
        return host({command, ws.pipeline.string(), "--state-dir", state});
    }
    // Everything under the project folder, to show nothing was touched.
    std::map<std::string, std::string> files() const { return snapshot(ws.dir.path()); }
};

void refused(const Result& r, const std::vector<std::string>& pieces) {
    BOOST_TEST(r.exit_code == 2, r.err);
    BOOST_TEST(std::count(r.err.begin(), r.err.end(), '\n') == 1, r.err);
    for (const auto& piece : pieces) BOOST_TEST(r.err.find(piece) != std::string::npos, "'" << piece << "' not in: " << r.err);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(state_folder)

BOOST_AUTO_TEST_CASE(a_state_folder_over_the_users_files_is_refused) {
    GuardedProject p;
    BOOST_REQUIRE_EQUAL(p.ws.run({"-q"}).exit_code, 0);
    const auto before = p.files();
    const std::string in = (p.ws.dir / "in").string(), out = (p.ws.dir / "out").string();
    // The input folder: 'clean' deleted it (exit 0) before.
    refused(p.with_state("clean", in), {"the state folder '" + in + "'", "dataset 'docs'", "overlap"});
    refused(p.with_state("run", in), {"dataset 'docs'"});
    // The output folder: state files would be read as partitions.
    refused(p.with_state("run", out), {"dataset 'counts'"});
    refused(p.with_state("run", (p.ws.dir / "in/sub").string()), {"dataset 'docs'"});  // inside a dataset
    // The project folder, or a folder holding it.
    refused(p.with_state("clean", p.ws.dir.path().string()), {"is the pipeline's folder", "'clean' would delete the project"});
    refused(p.with_state("run", p.ws.dir.path().parent_path().string()), {"is the pipeline's folder"});
    refused(p.with_state("clean", (p.ws.dir / "in/..").string()), {"is the pipeline's folder"});  // resolved, not as written
    BOOST_TEST((p.files() == before), "the project folder changed");
}

BOOST_AUTO_TEST_CASE(someone_elses_folder_and_a_link_are_refused) {
    GuardedProject p;
    // A folder of someone's files, not marked as a state folder.
    write_file(p.ws.dir / "mine/notes.txt", "keep me\n");
    refused(p.with_state("run", (p.ws.dir / "mine").string()), {"holds 'notes.txt', which steppar did not write"});
    refused(p.with_state("clean", (p.ws.dir / "mine").string()), {"notes.txt"});
    BOOST_TEST(read_file(p.ws.dir / "mine/notes.txt") == "keep me\n");
    BOOST_TEST(!fs::exists(p.ws.dir / "out"));
    // .steppar as a link: 'clean' deleted in its target before.
    write_file(p.ws.dir / "elsewhere/units", "a file named like steppar's\n");
    fs::create_symlink(p.ws.dir / "elsewhere", p.ws.dir / ".steppar");
    refused(host({"clean", p.ws.pipeline.string()}), {"is a symbolic link", "give its real path"});
    refused(p.ws.run(), {"is a symbolic link"});
    BOOST_TEST(read_file(p.ws.dir / "elsewhere/units") == "a file named like steppar's\n");
}

BOOST_AUTO_TEST_CASE(clean_removes_what_steppar_wrote_and_keeps_the_rest) {
    GuardedProject p;
    const std::string state = (p.ws.dir / "state").string();
    BOOST_REQUIRE_EQUAL(p.with_state("run", state).exit_code, 0);
    BOOST_TEST(fs::exists(p.ws.dir / "state/.steppar-state"));
    write_file(p.ws.dir / "state/README.txt", "someone put this here later\n");
    BOOST_TEST(p.with_state("run", state).exit_code == 0);  // marked as steppar's: a file of someone's does not stop it
    const Result cleaned = p.with_state("clean", state);
    BOOST_TEST(cleaned.exit_code == 0, cleaned.err);
    BOOST_TEST(cleaned.out.find("kept 1 entry steppar did not write: README.txt") != std::string::npos, cleaned.out);
    BOOST_TEST(read_file(p.ws.dir / "state/README.txt") == "someone put this here later\n");
    BOOST_TEST(!fs::exists(p.ws.dir / "state/units"));
    BOOST_TEST(fs::exists(p.ws.dir / "in/a.txt"));
    // Without anything of someone's, the folder goes.
    fs::remove(p.ws.dir / "state/README.txt");
    BOOST_TEST(p.with_state("run", state).exit_code == 0);
    BOOST_TEST(p.with_state("clean", state).exit_code == 0);
    BOOST_TEST(!fs::exists(p.ws.dir / "state"));
    // A state folder from before the signature (steppar's entries only) is taken as steppar's.
    BOOST_REQUIRE_EQUAL(p.ws.run({"-q"}).exit_code, 0);
    fs::remove(p.ws.dir / ".steppar/.steppar-state");
    BOOST_TEST(p.ws.run({"-q"}).exit_code == 0);
    BOOST_TEST(fs::exists(p.ws.dir / ".steppar/.steppar-state"));
}

// Two pipeline files in one folder with the same unit and output: the second used to retract
// the first's outputs through the shared .steppar.
BOOST_AUTO_TEST_CASE(two_pipeline_files_do_not_share_a_state_folder) {
    GuardedProject p;
    BOOST_REQUIRE_EQUAL(p.ws.run({"-q"}).exit_code, 0);
    const fs::path second = p.ws.dir / "second.yml";
    std::string text = guarded_pipeline;
    text.replace(text.find("path: in,"), 9, "path: other,");
    write_file(second, text);
    write_file(p.ws.dir / "other/z.txt", "zeta\n");
    const auto before = p.files();
    refused(host({"run", second.string()}), {"belongs to the pipeline file '" + fs::canonical(p.ws.pipeline).string() + "'",
                                             "not to '" + fs::canonical(second).string() + "'", "--state-dir"});
    BOOST_TEST((p.files() == before), "the project folder changed");
    BOOST_TEST(fs::exists(p.ws.dir / "out/a.json"));
    // With a state folder of its own it runs; the first pipeline's state is untouched.
    const Result own = host({"run", second.string(), "--state-dir", (p.ws.dir / ".steppar-second").string(), "-q"});
    BOOST_TEST(own.exit_code == 0, own.err);
    BOOST_TEST(p.ws.run({"-q"}).exit_code == 0);
    // The project moved whole keeps its state (the signature names the file relative to it).
    const fs::path moved = p.ws.dir.path().parent_path() / (p.ws.dir.path().filename().string() + "-moved");
    fs::rename(p.ws.dir.path(), moved);
    const Result after_move = host({"run", (moved / "pipeline.yml").string()});
    fs::rename(moved, p.ws.dir.path());
    BOOST_TEST(after_move.exit_code == 0, after_move.err);
}

// Links planted in the state folder are never followed for writing: the lock file, a ledger
// segment the next run will write, the signature. The run refuses (a link where steppar keeps
// its lock) or writes its own file; the links' targets keep their bytes.
BOOST_AUTO_TEST_CASE(links_planted_in_the_state_folder_are_not_written_through) {
    GuardedProject p;
    BOOST_REQUIRE_EQUAL(p.ws.run({"-q"}).exit_code, 0);
    TempDir elsewhere;
    const fs::path victim = elsewhere / "precious.txt";
    write_file(victim, "precious\n");
    const fs::path state = p.ws.dir / ".steppar", ledger = state / "units/count/ledger";
    // The ledger segments of the next generation (see also the ledger's unit tests), and the signature.
    for (const char* name : {"g2-s0.tsv", "g2-s1.tsv", "g2-host.tsv"}) fs::create_symlink(victim, ledger / name);
    fs::remove(state / ".steppar-state");
    fs::create_symlink(victim, state / ".steppar-state");
    write_file(p.ws.dir / "in/c.txt", "four five six\n");
    const Result r = p.ws.run({"-q"});
    BOOST_TEST(read_file(victim) == "precious\n");
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(read_file(p.ws.dir / "out/c.json") == std::string(R"({"lines":1,"words":3,"bytes":14})") + "\n");
    BOOST_TEST(fs::is_regular_file(fs::symlink_status(state / ".steppar-state")), "the signature is steppar's own file again");

    // The lock: refused, naming the link.
    fs::remove(state / "lock");
    fs::create_symlink(victim, state / "lock");
    const Result locked = p.ws.run({"-q"});
    BOOST_TEST(locked.exit_code != 0, locked.err);
    BOOST_TEST(has(locked.err, "is a symbolic link"), locked.err);
    BOOST_TEST(read_file(victim) == "precious\n");
    fs::remove(state / "lock");
    BOOST_TEST(p.ws.run({"-q"}).exit_code == 0);
}

// A state folder every user may write, or another user's, is refused before anything runs; so
// is a plugin every user may replace, and a relative STEPPAR_PLUGIN_PATH folder.
BOOST_AUTO_TEST_CASE(folders_and_plugins_others_could_write_are_refused) {
    GuardedProject p;
    const fs::path state = p.ws.dir / ".steppar";
    fs::create_directories(state);
    fs::permissions(state, fs::perms::others_write, fs::perm_options::add);
    refused(p.ws.run({"-q"}), {"'" + state.string() + "' is writable by every user", "chmod o-w"});
    fs::permissions(state, fs::perms::others_write, fs::perm_options::remove);
    if (::geteuid() == 0) {
        BOOST_REQUIRE(::chown(state.c_str(), 65534, 65534) == 0);
        refused(p.ws.run({"-q"}), {"'" + state.string() + "' belongs to user 65534"});
        BOOST_REQUIRE(::chown(state.c_str(), 0, 0) == 0);
    }
    BOOST_TEST(!fs::exists(p.ws.dir / "out"), "nothing ran");

    // The plugin by path, in a folder every user may write.
    TempDir open_folder;
    fs::copy_file(fs::path(host_program()).parent_path().parent_path() / "lib/steppar/plugins/steppar_builtin.so", open_folder / "mine.so");
    fs::permissions(open_folder.path(), fs::perms::others_all, fs::perm_options::add);
    std::string text = read_file(p.ws.pipeline);
    text.replace(text.find("builtin: steppar_builtin"), 24, "builtin: " + (open_folder / "mine.so").string());
    write_file(p.ws.pipeline, text);
    refused(host({"validate", p.ws.pipeline.string()}), {"folder '" + open_folder.path().string() + "' is writable by every user"});
    fs::permissions(open_folder.path(), fs::perms::others_write, fs::perm_options::remove);
    BOOST_TEST(host({"validate", p.ws.pipeline.string()}).exit_code == 0);

    // A relative folder on the plugin search path.
    text.replace(text.find("builtin: " + (open_folder / "mine.so").string()), 9 + (open_folder / "mine.so").string().size(), "builtin: mine");
    write_file(p.ws.pipeline, text);
    refused(shell("cd " + quote(open_folder.path().string()) + " && STEPPAR_PLUGIN_PATH=. " + quote(host_program()) + " validate " +
                  quote(p.ws.pipeline.string())),
            {"STEPPAR_PLUGIN_PATH holds the relative folder '.'"});
    BOOST_TEST(shell("STEPPAR_PLUGIN_PATH=" + quote(open_folder.path().string()) + " " + quote(host_program()) + " validate " +
                     quote(p.ws.pipeline.string())).exit_code == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(output_paths)

namespace {

// A pipeline whose file output `total` is at `total_path`, over in/ -> out/counts.
std::string with_total(const std::string& plugins, const std::string& total_path, const std::string& counts_path = "out/counts") {
    return "plugins: " + plugins + "\ncatalog:\n  docs:   {type: partitioned, path: in, suffix: .txt}\n  counts: {type: partitioned, path: " + counts_path +
           ", suffix: .json}\n  total:  {type: file, path: " + total_path +
           "}\nnodes:\n  - {name: count, func: builtin.wc, inputs: [docs], outputs: [counts]}\n  - {name: total, func: builtin.wc_total, "
           "inputs: [counts], outputs: [total]}\n";
}

}  // namespace

// Paths are compared resolved: a link to the input folder is the input folder.
BOOST_AUTO_TEST_CASE(an_output_through_a_link_into_an_input_is_refused) {
    Workspace ws(with_total("{builtin: steppar_builtin}", "out/total.json", "inlink/counts"));
    write_file(ws.dir / "in/a.txt", "one\n");
    fs::create_directory_symlink(ws.dir / "in", ws.dir / "inlink");
    const auto before = snapshot(ws.dir.path());
    refused(ws.run(), {"output 'counts'", "is inside the folder of dataset 'docs'"});
    BOOST_TEST((snapshot(ws.dir.path()) == before), "the project folder changed");
}

// A file output that is the pipeline file, a plugin, or a folder: refused before anything runs.
BOOST_AUTO_TEST_CASE(a_file_output_over_the_pipeline_a_plugin_or_a_folder_is_refused) {
    {
        Workspace ws(with_total("{builtin: steppar_builtin}", "pipeline.yml"));
        write_file(ws.dir / "in/a.txt", "one\n");
        const std::string text = read_file(ws.pipeline);
        refused(ws.run(), {"output 'total'", "is the pipeline file itself"});
        BOOST_TEST(read_file(ws.pipeline) == text);
    }
    {
        Workspace ws(with_total("{builtin: steppar_builtin, mine: ./mine.so}", "mine.so"));
        write_file(ws.dir / "in/a.txt", "one\n");
        fs::copy_file(fs::path(host_program()).parent_path().parent_path() / "lib/steppar/plugins/steppar_builtin.so", ws.dir / "mine.so");
        const std::string bytes = read_file(ws.dir / "mine.so");
        refused(ws.run(), {"output 'total'", "is the file of plugin 'mine'"});
        BOOST_TEST(read_file(ws.dir / "mine.so") == bytes);
    }
    {
        Workspace ws(with_total("{builtin: steppar_builtin}", "out/total"));
        write_file(ws.dir / "in/a.txt", "one\n");
        fs::create_directories(ws.dir / "out/total");
        refused(ws.run(), {"output 'total'", "is a folder"});
        BOOST_TEST(!fs::exists(ws.dir / "out/counts"));
    }
}

BOOST_AUTO_TEST_SUITE_END()
