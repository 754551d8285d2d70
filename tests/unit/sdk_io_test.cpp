#include <boost/test/unit_test.hpp>

#include <steppar/io.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

// A file with `content`, removed at the end of the test.
struct File {
    std::string path = (std::filesystem::temp_directory_path() / ("steppar-io-" + std::to_string(::getpid()) + "-" +
                                                                  std::to_string(reinterpret_cast<std::uintptr_t>(this))))
                           .string();
    explicit File(const std::string& content) { std::ofstream(path, std::ios::binary) << content; }
    ~File() { std::remove(path.c_str()); }
    steppar::InputFile input() const { return steppar::InputFile(path); }
};

std::vector<std::string> all(steppar::io::Pieces pieces) {
    std::vector<std::string> out;
    for (std::string_view piece : pieces) out.emplace_back(piece);
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sdk_io)

BOOST_AUTO_TEST_CASE(lines_drop_their_newline_and_a_carriage_return_and_keep_a_last_unterminated_one) {
    const File f("one\r\ntwo\n\nlast without newline");
    BOOST_TEST((all(steppar::io::lines(f.input())) == std::vector<std::string>{"one", "two", "", "last without newline"}));
    const File empty("");
    BOOST_TEST(all(steppar::io::lines(empty.input())).empty());
}

BOOST_AUTO_TEST_CASE(records_split_on_any_delimiter_and_chunks_cover_the_file) {
    const File f(std::string("a\0bb\0ccc", 8));
    BOOST_TEST((all(steppar::io::records(f.input(), '\0')) == std::vector<std::string>{"a", "bb", "ccc"}));
    std::string big;
    for (int i = 0; i < 10000; ++i) big += std::to_string(i) + ",";
    const File g(big);
    std::string joined;
    std::size_t pieces = 0;
    for (std::string_view chunk : steppar::io::chunks(g.input(), 4096)) {
        BOOST_TEST(chunk.size() <= 4096u);
        joined.append(chunk);
        ++pieces;
    }
    BOOST_TEST(joined == big);
    BOOST_TEST(pieces == (big.size() + 4095) / 4096);
    BOOST_CHECK_THROW(steppar::io::chunks(g.input(), 0), std::invalid_argument);
}

// The buffer starts small and grows with the file; the chunks stay exactly their size.
BOOST_AUTO_TEST_CASE(chunks_are_exactly_their_size_but_the_last_at_any_file_size) {
    for (const std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{4095}, std::size_t{4096}, std::size_t{4097},
                                   std::size_t{65536}, std::size_t{65537}, std::size_t{300001}}) {
        std::string content(size, '\0');
        for (std::size_t i = 0; i < size; ++i) content[i] = static_cast<char>('a' + i % 23);
        const File f(content);
        for (const std::size_t chunk : {std::size_t{1000}, std::size_t{65536}, std::size_t{1} << 20}) {
            const std::vector<std::string> pieces = all(steppar::io::chunks(f.input(), chunk));
            BOOST_TEST(pieces.size() == (size + chunk - 1) / chunk, "file of " << size << " B in chunks of " << chunk);
            std::string joined;
            for (std::size_t i = 0; i < pieces.size(); ++i) {
                if (i + 1 < pieces.size()) BOOST_TEST(pieces[i].size() == chunk, "piece " << i << " of a " << size << " B file");
                joined += pieces[i];
            }
            BOOST_TEST((joined == content), "file of " << size << " B in chunks of " << chunk);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_missing_file_is_named_with_the_reason) {
    try {
        for (std::string_view line : steppar::io::lines(steppar::InputFile("/nonexistent/steppar/x.txt"))) (void)line;
        BOOST_FAIL("no error");
    } catch (const std::runtime_error& e) {
        BOOST_TEST(std::string(e.what()) == "cannot open input file '/nonexistent/steppar/x.txt': No such file or directory");
    }
}

BOOST_AUTO_TEST_SUITE_END()

#include <steppar/json_io.hpp>
#include <steppar/testing.hpp>

BOOST_AUTO_TEST_SUITE(sdk_json_io)

BOOST_AUTO_TEST_CASE(json_values_and_json_lines_map_through_a_node) {
    steppar::testing::FakePartitionContext ctx("orders");
    ctx.add_input("{\"price\": 2.5, \"qty\": 4}\n\n{\"price\": 1, \"qty\": 0}\n");
    steppar::io::map_json_lines(ctx, [](const nlohmann::json& row) -> nlohmann::json {
        if (row.at("qty").get<int>() == 0) return nullptr;  // dropped
        return {{"total", row.at("price").get<double>() * row.at("qty").get<int>()}};
    });
    BOOST_TEST(ctx.output_text() == "{\"total\":10.0}\n");

    steppar::testing::FakePartitionContext whole("config");
    whole.add_input("{\"a\": [1, 2, 3]}");
    steppar::io::map_json(whole, [](const nlohmann::json& v) { return v.at("a").size(); });
    BOOST_TEST(whole.output_text() == "3\n");
}

BOOST_AUTO_TEST_CASE(bad_json_is_named_with_the_file_and_line) {
    steppar::testing::FakePartitionContext ctx("bad");
    ctx.add_input("{\"ok\": 1}\n{not json}\n");
    try {
        steppar::io::map_json_lines(ctx, [](const nlohmann::json& v) { return v; });
        BOOST_FAIL("no error");
    } catch (const std::runtime_error& e) {
        const std::string message = e.what();
        BOOST_TEST(message.find("' line 2 is not valid JSON: ") != std::string::npos, message);
        BOOST_TEST(message.find(ctx.input().path()) != std::string::npos, message);
    }
}

BOOST_AUTO_TEST_SUITE_END()
