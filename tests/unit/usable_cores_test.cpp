// The cores a process may use: the affinity mask, cgroup v2 cpu.max quotas (the process's cgroup
// and every ancestor) and the machine's count, the smallest winning; texts that are not cpu.max
// are no limit.
#include <boost/test/unit_test.hpp>

#include "steppar/usable_cores.hpp"

#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace steppar;

namespace {

struct MountFolder {
    fs::path path;
    MountFolder() {
        char name[] = "/tmp/steppar-cores XXXXXX";  // a space: mountinfo escapes it as \040
        const char* made = ::mkdtemp(name);
        BOOST_REQUIRE(made != nullptr);
        path = made;
    }
    ~MountFolder() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

void write(const fs::path& file, const std::string& text) {
    fs::create_directories(file.parent_path());
    std::ofstream(file) << text;
}

// A mountinfo line for a cgroup2 mount of ROOT at MOUNTPOINT, escaped as the kernel does.
std::string cgroup2_mount(const std::string& root, const fs::path& mountpoint) {
    std::string escaped;
    for (const char c : mountpoint.string()) escaped += c == ' ' ? std::string("\\040") : std::string(1, c);
    return "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
           "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
           "40 30 0:37 " + root + " " + escaped + " rw,relatime shared:9 - cgroup2 cgroup2 rw\n";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(usable_cores_suite)

BOOST_AUTO_TEST_CASE(cpu_max_quota_is_rounded_up_to_whole_cores) {
    BOOST_TEST(cores_of_cpu_max("150000 100000\n").value() == 2u);
    BOOST_TEST(cores_of_cpu_max("50000 100000\n").value() == 1u);
    BOOST_TEST(cores_of_cpu_max("200000 100000").value() == 2u);
    BOOST_TEST(cores_of_cpu_max("1000 100000").value() == 1u);  // the kernel's smallest quota
    BOOST_TEST(cores_of_cpu_max("  400000\t100000  \n").value() == 4u);
    BOOST_TEST(!cores_of_cpu_max("max 100000\n"));  // no limit
}

BOOST_AUTO_TEST_CASE(text_that_is_not_cpu_max_is_no_limit) {
    for (const char* garbage : {"", "\n", "max", "150000", "abc 100000", "150000 abc", "-150000 100000", "150000 -100000",
                                "0 100000", "150000 0", "1.5 1", "150000 100000 7", "99999999999999999999999 1", "150000,100000"})
        BOOST_TEST(!cores_of_cpu_max(garbage), "'" << garbage << "'");
    BOOST_TEST(usable_cores(CoreLimits{8, 8, {"garbage", "", "max"}}) == 8u);
    // A huge quota is no more than the machine.
    BOOST_TEST(cores_of_cpu_max("18446744073709551615 1").value() == 4294967295u);
    BOOST_TEST(usable_cores(CoreLimits{8, 8, {"18446744073709551615 1"}}) == 8u);
}

BOOST_AUTO_TEST_CASE(the_smallest_limit_wins) {
    BOOST_TEST(usable_cores(CoreLimits{8, 2, {}}) == 2u);                          // taskset -c 0,1
    BOOST_TEST(usable_cores(CoreLimits{8, 8, {"max 100000"}}) == 8u);              // no quota
    BOOST_TEST(usable_cores(CoreLimits{8, 8, {"150000 100000"}}) == 2u);           // 1.5 cores
    BOOST_TEST(usable_cores(CoreLimits{8, 8, {"50000 100000"}}) == 1u);            // half a core
    BOOST_TEST(usable_cores(CoreLimits{8, 4, {"max 100000", "300000 100000"}}) == 3u);  // an ancestor's quota
    BOOST_TEST(usable_cores(CoreLimits{8, 1, {"300000 100000"}}) == 1u);
    BOOST_TEST(usable_cores(CoreLimits{2, 0, {}}) == 2u);  // affinity unknown
    BOOST_TEST(usable_cores(CoreLimits{0, 3, {}}) == 3u);  // hardware unknown
    BOOST_TEST(usable_cores(CoreLimits{0, 0, {}}) == 1u);  // nothing known: still one
}

BOOST_AUTO_TEST_CASE(cpu_max_is_read_from_the_cgroup_and_each_ancestor) {
    MountFolder root;
    const fs::path mount = root.path / "cgroup";
    write(mount / "a/cpu.max", "300000 100000\n");
    write(mount / "a/b/cpu.max", "max 100000\n");
    fs::create_directories(mount / "a/b/c");  // the process's own cgroup: no cpu.max (missing is no limit)
    const std::string cgroup = "12:cpu,cpuacct:/v1/path\n0::/a/b/c\n";
    const auto texts = cgroup_cpu_max_texts(cgroup, cgroup2_mount("/", mount));
    BOOST_TEST((texts == std::vector<std::string>{"max 100000\n", "300000 100000\n"}));
    BOOST_TEST(usable_cores(CoreLimits{8, 8, texts}) == 3u);

    // A mount showing the hierarchy from /a down (a container's view): paths below it are found.
    const auto below = cgroup_cpu_max_texts("0::/a/b\n", cgroup2_mount("/a", mount / "a"));
    BOOST_TEST((below == std::vector<std::string>{"max 100000\n", "300000 100000\n"}));
    // A cgroup outside the mount's view, a path climbing out, cgroup v1 only, no cgroup2 mount: none.
    BOOST_TEST(cgroup_cpu_max_texts("0::/elsewhere\n", cgroup2_mount("/a", mount / "a")).empty());
    BOOST_TEST(cgroup_cpu_max_texts("0::/a/../..\n", cgroup2_mount("/", mount)).empty());
    BOOST_TEST(cgroup_cpu_max_texts("4:memory:/x\n1:cpu:/\n", cgroup2_mount("/", mount)).empty());
    BOOST_TEST(cgroup_cpu_max_texts("0::/a/b\n", "31 30 0:28 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n").empty());
    BOOST_TEST(cgroup_cpu_max_texts("", "").empty());
}

BOOST_AUTO_TEST_CASE(this_process_has_at_least_one_core_and_no_more_than_the_machine) {
    const CoreLimits limits = read_core_limits();
    BOOST_TEST(limits.affinity >= 1u);
    BOOST_TEST(usable_cores() >= 1u);
    if (limits.hardware > 0) BOOST_TEST(usable_cores() <= limits.hardware);
    BOOST_TEST(usable_cores() == usable_cores(limits));
}

BOOST_AUTO_TEST_SUITE_END()
