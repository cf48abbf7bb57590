import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from quanhuiqi.postings.ngrams import CharNgramTfidf
from quanhuiqi.postings.sample import sample_postings


def test_same_weights_as_scikit_learn_char_tfidf():
    raw = sample_postings(300, 300, seed=2)
    texts = (raw["title"] + " " + raw["description"]).str.lower().to_numpy(dtype=object)
    texts[5] = ""  # an empty text is a zero row, not an error
    ours = CharNgramTfidf(ngram_range=(2, 3), min_df=2, max_df=0.2).fit(texts)
    x = ours.transform(texts)
    ref = TfidfVectorizer(analyzer="char", ngram_range=(2, 3), min_df=2, max_df=0.2, sublinear_tf=True,
                          dtype=np.float32)
    y = ref.fit_transform(texts)
    assert x.shape == y.shape
    assert np.abs((x @ x.T).toarray() - (y @ y.T).toarray()).max() < 1e-5
    assert x[5].nnz == 0
    # unseen n-grams are ignored at transform time
    z = ours.transform(np.array(["求购不锈钢板 火星文ЖЖЖ"], dtype=object))
    assert z.shape == (1, x.shape[1]) and np.isclose(np.sqrt(z.multiply(z).sum()), 1.0)
