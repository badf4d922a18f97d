// The option table and the analysis-step table.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "analysis_step.hpp"
#include "convergent/options.hpp"

using namespace convergent;

TEST(OptionTable, NamesFlagsAndKeysAreUnique) {
    std::set<std::string> names, flags;
    std::set<int> keys;
    for (const OptionSpec& s : option_table()) {
        EXPECT_TRUE(names.insert(s.name).second) << s.name;
        EXPECT_TRUE(flags.insert(s.flag).second) << s.flag;
        if (s.alias) EXPECT_TRUE(flags.insert(s.alias).second) << s.alias;
        if (s.c_key) EXPECT_TRUE(keys.insert(s.c_key).second) << s.c_name;
        EXPECT_EQ(find_option(s.name), &s);
    }
}

TEST(OptionTable, EveryOptionOwnsAStepOfThePipeline) {
    std::set<std::string> steps{"pass"};
    for (const AnalysisStep& step : analysis_steps()) steps.insert(step.name);
    for (const RunStep& step : run_steps()) steps.insert(step.name);  // run-level steps (cross_layers)
    for (const OptionSpec& s : option_table()) EXPECT_TRUE(steps.count(s.step)) << s.name << " -> " << s.step;
}

TEST(OptionTable, SetGetRoundTripAndRangeChecksInOnePlace) {
    CompareOptions o;
    set_option(o, *find_option("mi_bins"), std::string("30"));
    EXPECT_EQ(o.mutual_information.bins, 30);
    EXPECT_THROW(set_option(o, *find_option("mi_bins"), std::int64_t(kMaxMutualInformationBins + 1)), Error);
    EXPECT_EQ(o.mutual_information.bins, 30);  // a rejected value changes nothing
    set_option(o, *find_option("layout"), std::string("NHWC"));
    EXPECT_TRUE(o.layout.channels_last);
    EXPECT_EQ(option_text(o, *find_option("layout")), "NHWC");
    set_option(o, *find_option("backend"), std::string("cpu"));
    EXPECT_EQ(o.backend, BackendKind::Cpu);
    set_option(o, *find_option("lasso_alphas"), std::string("0.5, 0.25"));
    EXPECT_EQ(o.sparse_prediction.alphas, (std::vector<double>{0.5, 0.25}));
    EXPECT_THROW(set_option(o, *find_option("lasso_alphas"), std::string("0.5,0")), Error);
    EXPECT_THROW(set_option(o, *find_option("cluster_tau"), 1.5), Error);
    EXPECT_THROW(set_option(o, *find_option("cluster_split_k"), std::int64_t(1)), Error);
    set_option(o, *find_option("cluster_split_k"), std::int64_t(0));
    EXPECT_THROW(set_option(o, *find_option("seed"), std::string("-1")), Error);
    set_option(o, *find_option("correlation_matching"), std::string("false"));
    EXPECT_FALSE(o.matching.enabled);
    EXPECT_EQ(recorded_options(o)["correlation_matching"], false);
    EXPECT_EQ(recorded_options(o)["mi_bins"], 30);
    EXPECT_FALSE(recorded_options(o).contains("overwrite"));
}

TEST(OptionTable, ValidateCatchesFieldsFilledInDirectly) {
    CompareOptions o;
    EXPECT_NO_THROW(validate_options(o));
    o.clustering.tau = 2.0;
    EXPECT_THROW(validate_options(o), Error);
    o = CompareOptions{};
    o.chunk_rows = 0;
    EXPECT_THROW(validate_options(o), Error);
}

TEST(OptionTable, StepOptionsBecomeTheAlgorithmsOptions) {
    CompareOptions o;
    o.seed = 9;
    o.clustering.n_init = 3;
    o.sparse_prediction.tol = 1e-5;
    o.mutual_information.zero_threshold = 0.5;
    EXPECT_EQ(clustering_options(o).seed, 9u);
    EXPECT_EQ(clustering_options(o).n_init, 3);
    EXPECT_EQ(sparse_prediction_options(o).tol, 1e-5);
    EXPECT_EQ(sparse_prediction_options(o).alphas, SparsePredictionOptions{}.alphas);  // empty = default path
    EXPECT_EQ(binning_options(o).zero_threshold, 0.5);
}

TEST(AnalysisSteps, TableIsOrderedAndRequirementsRunEarlier) {
    const auto& steps = analysis_steps();
    ASSERT_FALSE(steps.empty());
    EXPECT_STREQ(steps.front().name, "statistics");
    std::set<std::string> seen;
    for (const AnalysisStep& s : steps) {
        EXPECT_TRUE(seen.insert(s.name).second) << s.name;
        if (s.requires_step) EXPECT_TRUE(seen.count(s.requires_step)) << s.name << " requires a later step";
        EXPECT_NE(s.run, nullptr);
        EXPECT_NE(s.enabled, nullptr);
    }
    // The MI step asks the pass for the seeded sample rows.
    LayerPassRequest r;
    CompareOptions o;
    o.mutual_information.samples = 1234;
    for (const AnalysisStep& s : steps)
        if (s.request) s.request(o, r);
    EXPECT_EQ(r.mi_sample_rows, 1234);
}
