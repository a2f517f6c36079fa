// Real atproto records (the app.bsky lexicons of tests/data/atproto-corpus) through the
// generated types: they parse, validate with the schema-driven Validator and serialize back
// unchanged, open-union members and unknown fields included; bad records fail in both
// validators with the same message, which names the path and the lexicon's limit.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <string>
#include <variant>

#include "app/bsky/actor/profile.h"
#include "app/bsky/feed/defs.h"
#include "app/bsky/feed/like.h"
#include "app/bsky/feed/post.h"
#include "app/bsky/feed/threadgate.h"
#include "app/bsky/graph/follow.h"
#include "app/bsky/graph/list.h"
#include "lex/box.h"
#include "schema/catalog.h"
#include "schema/loader.h"
#include "schema/validator.h"

namespace atipay::lexicon {
namespace {

namespace json = boost::json;
namespace bsky = ::lexicons::app::bsky;

constexpr std::string_view kValid = "valid";

// Blob refs are raw-codec CIDv1 (sha256); record refs are dag-cbor CIDv1.
constexpr const char* kImageCid = "bafkreia7hvfvix4q2kertfwk6puc2uiwnpbdmvwdl27c7linmdls2jg62q";
constexpr const char* kVideoCid = "bafkreiepmh5wfukedbr2fx36pzvmjhwb7mknakmjs2r7huzcsgnnxsh7xu";
constexpr const char* kPostCid = "bafyreicd3vm6yuubsufbm5ydz5d4iqe6xksf5cxg7esqfmvjd7nd2vfxqm";

json::value J(const std::string& text) { return json::parse(text); }

class CorpusRecords : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto docs = LoadInputs({ATIPAY_TEST_DATA "/atproto-corpus"});
    ASSERT_TRUE(docs.ok()) << docs.error().message;
    catalog_ = new Catalog(std::move(docs).value());
  }
  static void TearDownTestSuite() {
    delete catalog_;
    catalog_ = nullptr;
  }

  static std::string Dynamic(const json::value& data, std::string_view schema) {
    Validator validator(*catalog_);
    lex::Errors errors;
    return validator.Validate(data, schema, MethodPart::kNone, errors) ? std::string(kValid)
                                                                       : errors.message();
  }

  // Parses with the generated type, checks the Validator agrees, and that ToJson gives the
  // input back exactly.
  template <class T>
  static T RoundTrip(const json::value& data, std::string_view schema, std::string_view root) {
    T out;
    lex::Errors errors;
    const bool ok = Parse(data, out, lex::Path(root), errors);
    EXPECT_TRUE(ok) << schema << ": " << errors.message();
    EXPECT_EQ(Dynamic(data, schema), kValid) << schema;
    if (ok) {
      EXPECT_EQ(ToJson(out), data) << schema << "\n got:  " << json::serialize(ToJson(out))
                                   << "\n want: " << json::serialize(data);
    }
    return out;
  }

  // The generated parser's message, after checking the Validator gives the same one.
  template <class T>
  static std::string Failure(const json::value& data, std::string_view schema,
                             std::string_view root) {
    T out;
    lex::Errors errors;
    const std::string generated =
        Parse(data, out, lex::Path(root), errors) ? std::string(kValid) : errors.message();
    EXPECT_EQ(generated, Dynamic(data, schema)) << schema << ": " << json::serialize(data);
    return generated;
  }

  static Catalog* catalog_;
};
Catalog* CorpusRecords::catalog_ = nullptr;

std::string Blob(const char* cid, const char* mime, int size) {
  return std::string(R"({"$type":"blob","ref":{"$link":")") + cid + R"("},"mimeType":")" + mime +
         R"(","size":)" + std::to_string(size) + "}";
}

// A reply in a thread, mentioning, linking and tagging, with two images.
json::value PostWithFacetsAndImages() {
  // "✨ @alice.bsky.social see https://atproto.com #atproto": facets index UTF-8 bytes, so the
  // three-byte sparkle shifts every slice by two.
  return J(R"({
    "$type": "app.bsky.feed.post",
    "text": "\u2728 @alice.bsky.social see https://atproto.com #atproto",
    "facets": [
      {"index": {"byteStart": 4, "byteEnd": 22},
       "features": [{"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:z72i7hdynmk6r22z27h6tvur"}]},
      {"index": {"byteStart": 27, "byteEnd": 46},
       "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://atproto.com"}]},
      {"index": {"byteStart": 47, "byteEnd": 55},
       "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "atproto"}]}
    ],
    "reply": {
      "root": {"uri": "at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.post/3l6oveex3ii2l",
               "cid": ")" +
           std::string(kPostCid) + R"("},
      "parent": {"uri": "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3l6ovf2xmbc2s",
                 "cid": ")" +
           kPostCid + R"("}
    },
    "embed": {
      "$type": "app.bsky.embed.images",
      "images": [
        {"image": )" +
           Blob(kImageCid, "image/jpeg", 412339) + R"(, "alt": "A harbour at dusk",
         "aspectRatio": {"width": 2000, "height": 1500}},
        {"image": )" +
           Blob(kImageCid, "image/png", 90210) + R"(, "alt": ""}
      ]
    },
    "langs": ["en", "pt-BR"],
    "labels": {"$type": "com.atproto.label.defs#selfLabels", "values": [{"val": "graphic-media"}]},
    "tags": ["photography"],
    "createdAt": "2024-10-14T09:30:12.345Z"
  })");
}

TEST_F(CorpusRecords, PostWithFacetsReplyImagesAndLangs) {
  const json::value data = PostWithFacetsAndImages();
  auto post = RoundTrip<bsky::feed::post::Record>(data, "app.bsky.feed.post", "Record");
  ASSERT_TRUE(post.facets);
  ASSERT_EQ(post.facets->size(), 3u);
  using bsky::richtext::facet::Link;
  using bsky::richtext::facet::Mention;
  using bsky::richtext::facet::Tag;
  EXPECT_EQ(std::get<Mention>((*post.facets)[0].features[0]).did,
            "did:plc:z72i7hdynmk6r22z27h6tvur");
  EXPECT_EQ(std::get<Link>((*post.facets)[1].features[0]).uri, "https://atproto.com");
  EXPECT_EQ(std::get<Tag>((*post.facets)[2].features[0]).tag, "atproto");
  // The slices pick out the right bytes of the text.
  const auto& slice = (*post.facets)[0].index;
  EXPECT_EQ(post.text.substr(slice.byte_start, slice.byte_end - slice.byte_start),
            "@alice.bsky.social");
  ASSERT_TRUE(post.reply);
  EXPECT_EQ(post.reply->root.cid, kPostCid);
  ASSERT_TRUE(post.embed);
  const auto& images = std::get<bsky::embed::images::Main>(*post.embed).images;
  ASSERT_EQ(images.size(), 2u);
  EXPECT_EQ(images[0].image.mime_type, "image/jpeg");
  EXPECT_EQ(images[0].image.size, 412339);
  EXPECT_EQ(images[0].image.ref.cid, kImageCid);
  ASSERT_TRUE(images[0].aspect_ratio);
  EXPECT_EQ(images[0].aspect_ratio->width, 2000);
  EXPECT_FALSE(images[1].aspect_ratio);
  EXPECT_EQ(post.langs, (std::vector<std::string>{"en", "pt-BR"}));
  ASSERT_TRUE(post.labels);
  EXPECT_EQ(std::get<0>(*post.labels).values[0].val, "graphic-media");
}

json::value PostWithEmbed(const std::string& embed) {
  return J(
      R"({"$type":"app.bsky.feed.post","text":"look","createdAt":"2024-10-14T09:30:12.345Z","embed":)" +
      embed + "}");
}

const std::string kExternal = R"({"$type":"app.bsky.embed.external","external":{
    "uri":"https://atproto.com/specs/lexicon","title":"Lexicon - AT Protocol",
    "description":"A schema definition language.","thumb":)" +
                              Blob(kImageCid, "image/webp", 53211) + "}}";
const std::string kRecordEmbed = R"({"$type":"app.bsky.embed.record","record":{
    "uri":"at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.post/3l6oveex3ii2l","cid":")" +
                                 std::string(kPostCid) + R"("}})";
const std::string kVideo =
    R"({"$type":"app.bsky.embed.video","video":)" + Blob(kVideoCid, "video/mp4", 8123456) +
    R"(,"captions":[{"lang":"en","file":)" + Blob(kImageCid, "text/vtt", 2048) +
    R"(}],"alt":"Waves","aspectRatio":{"width":1080,"height":1920},"presentation":"default"})";

TEST_F(CorpusRecords, PostWithEachEmbedKind) {
  auto external =
      RoundTrip<bsky::feed::post::Record>(PostWithEmbed(kExternal), "app.bsky.feed.post", "Record");
  ASSERT_TRUE(external.embed);
  const auto& ext = std::get<bsky::embed::external::Main>(*external.embed).external;
  EXPECT_EQ(ext.title, "Lexicon - AT Protocol");
  ASSERT_TRUE(ext.thumb);
  EXPECT_EQ(ext.thumb->mime_type, "image/webp");  // accept: image/*

  auto quote = RoundTrip<bsky::feed::post::Record>(PostWithEmbed(kRecordEmbed),
                                                   "app.bsky.feed.post", "Record");
  ASSERT_TRUE(quote.embed);
  EXPECT_EQ(std::get<bsky::embed::record::Main>(*quote.embed).record.cid, kPostCid);

  auto video =
      RoundTrip<bsky::feed::post::Record>(PostWithEmbed(kVideo), "app.bsky.feed.post", "Record");
  ASSERT_TRUE(video.embed);
  const auto& v = std::get<bsky::embed::video::Main>(*video.embed);
  EXPECT_EQ(v.video.size, 8123456);
  ASSERT_TRUE(v.captions);
  EXPECT_EQ((*v.captions)[0].file.mime_type, "text/vtt");
  EXPECT_EQ(v.presentation, "default");

  // A quote post with media: the record part goes through a Box (embed.record and
  // embed.recordWithMedia refer to each other).
  for (const std::string& media :
       {kVideo,
        std::string(R"({"$type":"app.bsky.embed.images","images":[{"image":)") +
            Blob(kImageCid, "image/png", 1) + R"(,"alt":"x"}]})",
        kExternal}) {
    const std::string with_media = R"({"$type":"app.bsky.embed.recordWithMedia","record":{"record":{
        "uri":"at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.post/3l6oveex3ii2l","cid":")" +
                                   std::string(kPostCid) + R"("}},"media":)" + media + "}";
    auto post = RoundTrip<bsky::feed::post::Record>(PostWithEmbed(with_media), "app.bsky.feed.post",
                                                    "Record");
    ASSERT_TRUE(post.embed);
    const auto& rwm = std::get<bsky::embed::recordWithMedia::Main>(*post.embed);
    ASSERT_TRUE(rwm.record.has_value());
    EXPECT_EQ(rwm.record->record.uri,
              "at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.post/3l6oveex3ii2l");
    // Taken out of its union, the member has no $type of its own: that belongs to the union.
    EXPECT_TRUE(rwm.extra.empty());
    boost::json::value expected = J(with_media);
    expected.as_object().erase("$type");
    EXPECT_EQ(ToJson(rwm), expected);
  }
}

TEST_F(CorpusRecords, PostWithAnUnknownEmbedKeepsItVerbatim) {
  // An embed type from a lexicon this build does not know: the open union keeps it whole,
  // nested objects, arrays, blobs, nulls and all, as do unknown fields of the post.
  const std::string embed = R"({"$type":"fyi.unravel.frontpage.embed","title":"Show FP",
      "score":{"up":12,"down":0},"tags":["a","b",null,true],
      "cover":)" + Blob(kImageCid, "image/avif", 77) +
                            R"(,"link":{"$link":")" + kPostCid + R"("}})";
  json::value data = PostWithEmbed(embed);
  data.as_object()["via"] = "Graysky";
  data.as_object()["client"] = J(R"({"name":"x","build":[1,2,3]})");
  auto post = RoundTrip<bsky::feed::post::Record>(data, "app.bsky.feed.post", "Record");
  ASSERT_TRUE(post.embed);
  ASSERT_TRUE(std::holds_alternative<lex::UnknownUnionMember>(*post.embed));
  const auto& unknown = std::get<lex::UnknownUnionMember>(*post.embed);
  EXPECT_EQ(unknown.type(), "fyi.unravel.frontpage.embed");
  EXPECT_EQ(json::value(unknown.value), J(embed));
  EXPECT_EQ(post.extra.at("via"), "Graysky");
  EXPECT_EQ(post.extra.size(), 2u);

  // An unknown member is still data-model checked: floats are not atproto data.
  data.as_object()["embed"].as_object()["score"].as_object()["up"] = 1.5;
  EXPECT_EQ(Failure<bsky::feed::post::Record>(data, "app.bsky.feed.post", "Record"),
            "Record/embed/score/up must be an integer, not a float");
}

TEST_F(CorpusRecords, ProfileLikeFollowThreadgateAndList) {
  const json::value profile =
      J(R"({"$type":"app.bsky.actor.profile","displayName":"Alice \ud83c\udf3b",
      "description":"Photographer. Posts about harbours.\nShe/her","avatar":)" +
        Blob(kImageCid, "image/jpeg", 183022) + R"(,"banner":)" +
        Blob(kImageCid, "image/png", 950000) + R"(,
      "pinnedPost":{"uri":"at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3l6ovf2xmbc2s","cid":")" +
        kPostCid + R"("},"createdAt":"2023-04-12T18:02:44.000Z"})");
  auto p = RoundTrip<bsky::actor::profile::Record>(profile, "app.bsky.actor.profile", "Record");
  ASSERT_TRUE(p.avatar);
  EXPECT_EQ(p.avatar->mime_type, "image/jpeg");
  EXPECT_EQ(p.avatar->size, 183022);
  EXPECT_EQ(bsky::actor::profile::Record::kRecordKey, "literal:self");

  // No createdAt at all is fine: nothing in a profile is required.
  RoundTrip<bsky::actor::profile::Record>(J(R"({"$type":"app.bsky.actor.profile"})"),
                                          "app.bsky.actor.profile", "Record");

  const json::value like =
      J(R"({"$type":"app.bsky.feed.like","subject":{
      "uri":"at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.post/3l6oveex3ii2l","cid":")" +
        std::string(kPostCid) + R"("},"createdAt":"2024-10-14T09:31:00.000Z"})");
  auto l = RoundTrip<bsky::feed::like::Record>(like, "app.bsky.feed.like", "Record");
  EXPECT_FALSE(l.via);

  auto f = RoundTrip<bsky::graph::follow::Record>(
      J(R"({"$type":"app.bsky.graph.follow","subject":"did:plc:z72i7hdynmk6r22z27h6tvur",
            "createdAt":"2024-10-14T09:31:00.000Z"})"),
      "app.bsky.graph.follow", "Record");
  EXPECT_EQ(f.subject, "did:plc:z72i7hdynmk6r22z27h6tvur");

  const json::value threadgate = J(R"({"$type":"app.bsky.feed.threadgate",
      "post":"at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3l6ovf2xmbc2s",
      "allow":[{"$type":"app.bsky.feed.threadgate#mentionRule"},
               {"$type":"app.bsky.feed.threadgate#followerRule"},
               {"$type":"app.bsky.feed.threadgate#followingRule"},
               {"$type":"app.bsky.feed.threadgate#listRule",
                "list":"at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.graph.list/3l6ovhdqyjs2x"},
               {"$type":"app.bsky.feed.threadgate#verifiedRule"}],
      "hiddenReplies":["at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.post/3l6ovj4tzre2s"],
      "createdAt":"2024-10-14T09:30:13.000Z"})");
  auto tg =
      RoundTrip<bsky::feed::threadgate::Record>(threadgate, "app.bsky.feed.threadgate", "Record");
  ASSERT_TRUE(tg.allow);
  ASSERT_EQ(tg.allow->size(), 5u);
  EXPECT_EQ((*tg.allow)[0].index(), 0u);
  EXPECT_EQ((*tg.allow)[1].index(), 1u);
  EXPECT_EQ((*tg.allow)[2].index(), 2u);
  ASSERT_EQ((*tg.allow)[3].index(), 3u);
  EXPECT_EQ(std::get<3>((*tg.allow)[3]).list,
            "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.graph.list/3l6ovhdqyjs2x");
  EXPECT_EQ((*tg.allow)[4].index(), 4u);  // a rule from a newer lexicon, kept

  const json::value list =
      J(R"({"$type":"app.bsky.graph.list","purpose":"app.bsky.graph.defs#curatelist",
      "name":"Harbour photographers","description":"People who post harbours, mostly @alice.bsky.social",
      "descriptionFacets":[{"index":{"byteStart":33,"byteEnd":51},"features":[
        {"$type":"app.bsky.richtext.facet#mention","did":"did:plc:ewvi7nxzyoun6zhxrhs64oiz"}]}],
      "avatar":)" +
        Blob(kImageCid, "image/png", 4096) + R"(,"createdAt":"2024-10-01T00:00:00.000Z"})");
  auto li = RoundTrip<bsky::graph::list::Record>(list, "app.bsky.graph.list", "Record");
  EXPECT_EQ(li.purpose, "app.bsky.graph.defs#curatelist");
  ASSERT_TRUE(li.description_facets);
  EXPECT_EQ((*li.description_facets)[0].index.byte_start, 33);
  EXPECT_EQ(li.description->substr(33, 18), "@alice.bsky.social");
}

// A post view in a thread; `n` tells the posts apart.
std::string PostView(int n) {
  return R"({"uri":"at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.post/3l6ove)" +
         std::to_string(n) + R"(","cid":")" + std::string(kPostCid) +
         R"(","author":{"did":"did:plc:z72i7hdynmk6r22z27h6tvur",
         "handle":"bob.bsky.social","displayName":"Bob"},"record":{"$type":"app.bsky.feed.post",
         "text":"post )" +
         std::to_string(n) + R"(","createdAt":"2024-10-14T09:30:12.345Z"},
         "replyCount":1,"likeCount":)" +
         std::to_string(n * 3) + R"(,"indexedAt":"2024-10-14T09:30:13.000Z"})";
}

TEST_F(CorpusRecords, DeepThreadViewThroughBoxes) {
  // Five ancestors up the parent chain (the top one deleted), and three levels of replies
  // with a blocked reply in the middle.
  std::string parent = R"({"$type":"app.bsky.feed.defs#notFoundPost",
      "uri":"at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.post/3l6ovezzz","notFound":true})";
  for (int n = 1; n <= 5; ++n) {
    parent = R"({"$type":"app.bsky.feed.defs#threadViewPost","post":)" + PostView(n) +
             R"(,"parent":)" + parent + "}";
  }
  std::string replies = R"([{"$type":"app.bsky.feed.defs#threadViewPost","post":)" + PostView(9) +
                        R"(,"replies":[]}])";
  replies =
      R"([{"$type":"app.bsky.feed.defs#threadViewPost","post":)" + PostView(8) + R"(,"replies":)" +
      replies +
      R"(},{"$type":"app.bsky.feed.defs#blockedPost","uri":"at://did:plc:abc/app.bsky.feed.post/3l6ovb",
               "blocked":true,"author":{"did":"did:plc:z72i7hdynmk6r22z27h6tvur"}}])";
  replies = R"([{"$type":"app.bsky.feed.defs#threadViewPost","post":)" + PostView(7) +
            R"(,"replies":)" + replies + "}]";
  const json::value thread = J(
      R"({"post":)" + PostView(6) + R"(,"parent":)" + parent + R"(,"replies":)" + replies +
      R"(,"threadContext":{"rootAuthorLike":"at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.like/3l6ovl"}})");

  auto view = RoundTrip<bsky::feed::defs::ThreadViewPost>(
      thread, "app.bsky.feed.defs#threadViewPost", "Object");
  using bsky::feed::defs::ThreadViewPost;
  // Walk up: five boxed threadViewPosts, then the notFoundPost.
  const ThreadViewPost* at = &view;
  for (int n = 5; n >= 1; --n) {
    ASSERT_TRUE(at->parent);
    ASSERT_EQ(at->parent->index(), 0u) << n;
    const auto& box = std::get<lex::Box<ThreadViewPost>>(*at->parent);
    ASSERT_TRUE(box.has_value());
    at = &*box;
    EXPECT_EQ(std::string_view(at->post.record.at("text").as_string()),
              "post " + std::to_string(n));
  }
  ASSERT_TRUE(at->parent);
  ASSERT_EQ(at->parent->index(), 1u);
  EXPECT_TRUE(std::get<bsky::feed::defs::NotFoundPost>(*at->parent).not_found);
  // Walk down the replies.
  ASSERT_TRUE(view.replies);
  const auto& seven = *std::get<lex::Box<ThreadViewPost>>((*view.replies)[0]);
  ASSERT_TRUE(seven.replies);
  ASSERT_EQ(seven.replies->size(), 2u);
  EXPECT_EQ((*seven.replies)[1].index(), 2u);  // blocked
  const auto& eight = *std::get<lex::Box<ThreadViewPost>>((*seven.replies)[0]);
  EXPECT_EQ(eight.post.like_count, 24);
  const auto& nine = *std::get<lex::Box<ThreadViewPost>>((*eight.replies)[0]);
  EXPECT_TRUE(nine.replies && nine.replies->empty());

  // Boxes copy deeply and compare by value.
  ThreadViewPost copy = view;
  EXPECT_EQ(copy, view);
  std::get<lex::Box<ThreadViewPost>>(*copy.parent)->post.like_count = 1000;
  EXPECT_NE(copy, view);
  EXPECT_EQ(std::get<lex::Box<ThreadViewPost>>(*view.parent)->post.like_count, 15);

  // An error deep in the chain carries the whole path.
  json::value broken = thread;
  json::value* p = &broken;
  for (int i = 0; i < 6; ++i) p = &p->as_object()["parent"];
  ASSERT_EQ(p->at("$type"), "app.bsky.feed.defs#notFoundPost");
  p->as_object()["notFound"] = false;
  EXPECT_EQ(Failure<ThreadViewPost>(broken, "app.bsky.feed.defs#threadViewPost", "Object"),
            "Object/parent/parent/parent/parent/parent/parent/notFound must be true");
}

TEST_F(CorpusRecords, BadRecordsFailWithTheLexiconLimitsInBothValidators) {
  using Post = bsky::feed::post::Record;
  auto post = [](const std::string& fields) {
    return J(R"({"$type":"app.bsky.feed.post","createdAt":"2024-10-14T09:30:12.345Z")" + fields +
             "}");
  };
  // text: maxGraphemes 300, maxLength 3000.
  std::string flowers;
  for (int i = 0; i < 300; ++i) flowers += "\xf0\x9f\x8c\xbb";  // 🌻, 4 bytes
  EXPECT_EQ(Failure<Post>(post(R"(,"text":")" + flowers + R"(")"), "app.bsky.feed.post", "Record"),
            kValid);
  EXPECT_EQ(Failure<Post>(post(R"(,"text":")" + flowers + R"(x")"), "app.bsky.feed.post", "Record"),
            "Record/text must not be longer than 300 graphemes");
  // 751 flowers are 3004 bytes: the byte limit is checked first.
  std::string long_text;
  for (int i = 0; i < 751; ++i) long_text += "\xf0\x9f\x8c\xbb";
  EXPECT_EQ(
      Failure<Post>(post(R"(,"text":")" + long_text + R"(")"), "app.bsky.feed.post", "Record"),
      "Record/text must not be longer than 3000 characters");
  EXPECT_EQ(Failure<Post>(post(""), "app.bsky.feed.post", "Record"),
            "Record must have the property \"text\"");

  // images: maxLength 4.
  const std::string image = R"({"image":)" + Blob(kImageCid, "image/png", 1) + R"(,"alt":""})";
  EXPECT_EQ(
      Failure<Post>(post(R"(,"text":"","embed":{"$type":"app.bsky.embed.images","images":[)" +
                         image + "," + image + "," + image + "," + image + "," + image + "]}"),
                    "app.bsky.feed.post", "Record"),
      "Record/embed/images must not have more than 4 elements");
  // image blob: accept image/*, maxSize 2000000.
  EXPECT_EQ(Failure<Post>(
                post(R"(,"text":"","embed":{"$type":"app.bsky.embed.images","images":[{"image":)" +
                     Blob(kVideoCid, "video/mp4", 1) + R"(,"alt":""}]})"),
                "app.bsky.feed.post", "Record"),
            "Record/embed/images/0/image mime type must be one of image/*");
  EXPECT_EQ(Failure<Post>(
                post(R"(,"text":"","embed":{"$type":"app.bsky.embed.images","images":[{"image":)" +
                     Blob(kImageCid, "image/png", 2000001) + R"(,"alt":""}]})"),
                "app.bsky.feed.post", "Record"),
            "Record/embed/images/0/image is too big (max 2000000 bytes)");
  // aspectRatio: minimum 1.
  EXPECT_EQ(Failure<Post>(
                post(R"(,"text":"","embed":{"$type":"app.bsky.embed.images","images":[{"image":)" +
                     Blob(kImageCid, "image/png", 1) +
                     R"(,"alt":"","aspectRatio":{"width":0,"height":1}}]})"),
                "app.bsky.feed.post", "Record"),
            "Record/embed/images/0/aspectRatio/width can not be less than 1");
  // langs: maxLength 3, items format language.
  EXPECT_EQ(
      Failure<Post>(post(R"(,"text":"hi","langs":["en_US"])"), "app.bsky.feed.post", "Record"),
      "Record/langs/0 must be a well-formed BCP 47 language tag");
  EXPECT_EQ(Failure<Post>(post(R"(,"text":"hi","langs":["en","de","fr","ja"])"),
                          "app.bsky.feed.post", "Record"),
            "Record/langs must not have more than 3 elements");
  // facets.
  EXPECT_EQ(
      Failure<Post>(
          post(R"(,"text":"hi","facets":[{"index":{"byteStart":-1,"byteEnd":2},"features":[]}])"),
          "app.bsky.feed.post", "Record"),
      "Record/facets/0/index/byteStart can not be less than 0");
  EXPECT_EQ(Failure<Post>(post(R"(,"text":"hi","facets":[{"index":{"byteStart":0,"byteEnd":2},
                                   "features":[{"did":"did:plc:z72i7hdynmk6r22z27h6tvur"}]}])"),
                          "app.bsky.feed.post", "Record"),
            "Record/facets/0/features/0 must be an object which includes the \"$type\" property");
  EXPECT_EQ(Failure<Post>(post(R"(,"text":"hi","facets":[{"index":{"byteStart":0,"byteEnd":2},
                                   "features":[{"$type":"app.bsky.richtext.facet#mention","did":"bob"}]}])"),
                          "app.bsky.feed.post", "Record"),
            "Record/facets/0/features/0/did must be a valid did");
  // reply: a strongRef needs a cid.
  EXPECT_EQ(
      Failure<Post>(
          post(R"(,"text":"hi","reply":{"root":{"uri":"at://did:plc:abc/app.bsky.feed.post/1"},
                                   "parent":{"uri":"at://did:plc:abc/app.bsky.feed.post/1","cid":")" +
               std::string(kPostCid) + R"("}})"),
          "app.bsky.feed.post", "Record"),
      "Record/reply/root must have the property \"cid\"");
  // video: accept video/mp4 exactly.
  EXPECT_EQ(Failure<Post>(post(R"(,"text":"","embed":{"$type":"app.bsky.embed.video","video":)" +
                               Blob(kVideoCid, "video/quicktime", 10) + "}"),
                          "app.bsky.feed.post", "Record"),
            "Record/embed/video mime type must be one of video/mp4");

  // profile avatar: accept image/png, image/jpeg.
  EXPECT_EQ(
      Failure<bsky::actor::profile::Record>(J(R"({"$type":"app.bsky.actor.profile","avatar":)" +
                                              Blob(kImageCid, "image/gif", 10) + "}"),
                                            "app.bsky.actor.profile", "Record"),
      "Record/avatar mime type must be one of image/png, image/jpeg");
  // list name: minLength 1, maxLength 64.
  auto list = [](const std::string& name) {
    return J(R"({"$type":"app.bsky.graph.list","purpose":"app.bsky.graph.defs#modlist","name":")" +
             name + R"(","createdAt":"2024-10-01T00:00:00.000Z"})");
  };
  EXPECT_EQ(Failure<bsky::graph::list::Record>(list(""), "app.bsky.graph.list", "Record"),
            "Record/name must not be shorter than 1 characters");
  EXPECT_EQ(Failure<bsky::graph::list::Record>(list(std::string(65, 'n')), "app.bsky.graph.list",
                                               "Record"),
            "Record/name must not be longer than 64 characters");
  // threadgate: allow maxLength 5, listRule needs its list.
  auto gate = [](const std::string& allow) {
    return J(R"({"$type":"app.bsky.feed.threadgate","post":"at://did:plc:abc/app.bsky.feed.post/1",
                 "createdAt":"2024-10-01T00:00:00.000Z","allow":)" +
             allow + "}");
  };
  const std::string rule = R"({"$type":"app.bsky.feed.threadgate#followerRule"})";
  EXPECT_EQ(
      Failure<bsky::feed::threadgate::Record>(
          gate("[" + rule + "," + rule + "," + rule + "," + rule + "," + rule + "," + rule + "]"),
          "app.bsky.feed.threadgate", "Record"),
      "Record/allow must not have more than 5 elements");
  EXPECT_EQ(Failure<bsky::feed::threadgate::Record>(
                gate(R"([{"$type":"app.bsky.feed.threadgate#listRule"}])"),
                "app.bsky.feed.threadgate", "Record"),
            "Record/allow/0 must have the property \"list\"");
  // Wrong record type, and a like whose subject is a bare URI.
  EXPECT_EQ(
      Failure<bsky::feed::like::Record>(
          J(R"({"$type":"app.bsky.feed.post","subject":"at://did:plc:abc/app.bsky.feed.post/1",
                      "createdAt":"2024-10-01T00:00:00.000Z"})"),
          "app.bsky.feed.like", "Record"),
      "Invalid $type: must be app.bsky.feed.like, got app.bsky.feed.post");
  EXPECT_EQ(
      Failure<bsky::feed::like::Record>(
          J(R"({"$type":"app.bsky.feed.like","subject":"at://did:plc:abc/app.bsky.feed.post/1",
                      "createdAt":"2024-10-01T00:00:00.000Z"})"),
          "app.bsky.feed.like", "Record"),
      "Record/subject must be an object");
  EXPECT_EQ(
      Failure<bsky::graph::follow::Record>(
          J(R"({"$type":"app.bsky.graph.follow","subject":"bob.bsky.social","createdAt":"2024-10-01T00:00:00Z"})"),
          "app.bsky.graph.follow", "Record"),
      "Record/subject must be a valid did");
}

}  // namespace
}  // namespace atipay::lexicon
