// Unit tests of word_lengths' nodes as plain functions, on steppar/testing.hpp's fake contexts.
#include <steppar/testing.hpp>

#include <iostream>

void histogram(steppar::PartitionContext& ctx);
void longest(steppar::WholeContext& ctx);

int main() {
    int failures = 0;
    auto expect = [&](bool ok, const char* what) {
        if (!ok) std::cerr << "FAILED: " << what << "\n";
        failures += !ok;
    };
    steppar::testing::FakePartitionContext doc("doc");
    doc.add_input("a bb cc\nddd\n");
    histogram(doc);
    expect(doc.output_text() == "1 1\n2 2\n3 1\n", "histogram: one line per word length");
    expect(doc.counters().value("words") == 4, "histogram counts the words");

    steppar::testing::FakeWholeContext all;
    all.add_partitioned_input("hist", {{"a", "1 1\n2 2\n"}, {"b", "7 1\n"}, {"c", "3 4\n"}});
    longest(all);
    expect(all.output_text() == "7 b\n", "longest: the longest length and where");
    return failures == 0 ? 0 : 1;
}
