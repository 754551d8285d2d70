// steppar_builtin: the built-in nodes used by the demo, the tests and the benchmarks.
//
//   wc         (partition) {"lines":L,"words":W,"bytes":B}, as `LC_ALL=C wc -l -w -c` counts them
//   wc_total   (whole)     sums a partitioned `wc` dataset: {"files":F,"lines":L,"words":W,"bytes":B}
//   sha256     (partition) lowercase hex digest and a newline, as `sha256sum` prints it
//   lowercase  (partition) ASCII-lowercased text
//   long_words (partition) the words of at least `params:min_length` bytes, one per line
#include "word_count.hpp"

#include <steppar/io.hpp>
#include <steppar/sdk.hpp>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <array>
#include <memory>

namespace {

// Streams the file through the digest in chunks: a partition larger than memory is fine.
std::string hex_sha256(const steppar::InputFile& file) {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    if (!md || EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("OpenSSL could not start a SHA-256 digest");
    for (const std::string_view chunk : steppar::io::chunks(file, std::size_t{1} << 16)) EVP_DigestUpdate(md.get(), chunk.data(), chunk.size());
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    EVP_DigestFinal_ex(md.get(), digest.data(), &length);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < length; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 0xf];
    }
    return out;
}

}  // namespace

void wc(steppar::PartitionContext& ctx) {
    steppar::builtin::WordCounter counter;
    for (const std::string_view chunk : steppar::io::chunks(ctx.input(), std::size_t{1} << 16)) counter.add(chunk.data(), chunk.size());
    ctx.output().write(counter.json());
}
STEPPAR_NODE(wc)

void wc_total(steppar::WholeContext& ctx) {
    const auto& counts = ctx.input();
    if (!counts.partitioned())
        throw std::runtime_error("wc_total needs a partitioned dataset of wc results, got file dataset '" +
                                 counts.name() + "'");
    unsigned long long files = 0, lines = 0, words = 0, bytes = 0;
    for (const auto& part : counts.partitions()) {
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(part.file.read_text());
            lines += j.at("lines").get<unsigned long long>();
            words += j.at("words").get<unsigned long long>();
            bytes += j.at("bytes").get<unsigned long long>();
        } catch (const nlohmann::json::exception& e) {
            throw std::runtime_error("partition '" + part.name + "' is not a wc result (" + e.what() + ")");
        }
        ++files;
    }
    ctx.output().write(R"({"files":)" + std::to_string(files) + R"(,"lines":)" + std::to_string(lines) +
                       R"(,"words":)" + std::to_string(words) + R"(,"bytes":)" + std::to_string(bytes) + "}\n");
}
STEPPAR_NODE(wc_total)

void sha256(steppar::PartitionContext& ctx) { ctx.output().write(hex_sha256(ctx.input()) + "\n"); }
STEPPAR_NODE(sha256)

void lowercase(steppar::PartitionContext& ctx) {
    steppar::io::map_text(ctx, [](std::string_view in) {
        std::string text(in);
        for (char& c : text)
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        return text;
    });
}
STEPPAR_NODE(lowercase)

void long_words(steppar::PartitionContext& ctx) {
    const auto min_length = static_cast<std::size_t>(ctx.params().integer("min_length"));
    const std::string text = ctx.input().read_text();
    std::string out;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= text.size(); ++i) {
        if (i == text.size() || steppar::builtin::is_c_space(static_cast<unsigned char>(text[i]))) {
            if (i > start && i - start >= min_length) out.append(text, start, i - start).push_back('\n');
            start = i + 1;
        }
    }
    ctx.output().write(out);
}
STEPPAR_NODE(long_words)
