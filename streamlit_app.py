"""GRU Lab: how a bidirectional GRU reads movie reviews.

Run with `streamlit run streamlit_app.py`. This file only sets the page up,
builds the navigation over the pages that exist, and draws the shared sidebar.
"""

import pathlib

import streamlit as st

from pages import common

HERE = pathlib.Path(__file__).parent

# (file, title, icon); a page is listed only once its file exists. The first
# is the default page, served at the app's root URL.
PAGES = [
    ("pages/home.py", "Home", ":material/home:"),
    ("pages/playground.py", "Playground", ":material/edit_note:"),
    ("pages/architecture.py", "Architecture", ":material/account_tree:"),
    ("pages/train.py", "Train", ":material/model_training:"),
]

st.set_page_config(page_title="GRU Lab", page_icon=":material/replay:", layout="wide")
common.keep_keras_state_between_reruns()

pages = [
    st.Page(path, title=title, icon=icon)
    for path, title, icon in PAGES
    if (HERE / path).is_file()
]
if not pages:
    st.error("No page files were found next to streamlit_app.py.")
    st.stop()

navigation = st.navigation(pages)
common.sidebar()
navigation.run()
