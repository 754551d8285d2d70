// The state folder is steppar's alone: a --state-dir that is the project, a dataset, inside one
// or holding one, a symbolic link, or a folder of someone else's files is refused (exit 2,
// naming both) before anything is written or deleted; `clean` removes what steppar wrote and
// keeps the rest.
#include "harness.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>

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
