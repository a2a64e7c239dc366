#include "worker/train/tokenizer.h"

#include <gtest/gtest.h>

TEST(Tokenizer, Placeholder) { EXPECT_TRUE(true); }
