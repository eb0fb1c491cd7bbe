from django.contrib.auth import views as auth_views
from django.urls import path

from cases import bundle_views
from cases import kg_views
from cases import views as case_views
from simulator.accounts import views as account_views
from simulator.encounters import views as encounter_views
from simulator.imaging import views as imaging_views
from simulator.review import views as review_views

urlpatterns = [
    path("", account_views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # authoring
    path("cases/", case_views.case_list, name="case_list"),
    path("cases/new/", case_views.case_new, name="case_new"),
    path("cases/<int:case_id>/edit/", case_views.case_edit, name="case_edit"),
    path("cases/<int:case_id>/draft/", case_views.case_draft_start_view, name="case_draft_start"),
    path("cases/<int:case_id>/autosave/", case_views.case_autosave, name="case_autosave"),
    path("cases/<int:case_id>/studies/<int:study_id>/anatomy", case_views.study_anatomy_pixels,
         name="study_anatomy"),
    path("cases/<int:case_id>/studies/<int:study_id>/typical-mask", case_views.study_typical_mask,
         name="study_typical_mask"),
    path("cases/<int:case_id>/publish/", case_views.case_publish_view, name="case_publish"),
    path("cases/<int:case_id>/archive/", case_views.case_archive_view, name="case_archive"),
    path("cases/<int:case_id>/clone/", case_views.case_clone_view, name="case_clone"),
    path("cases/<int:case_id>/export/", bundle_views.case_export, name="case_export"),
    path("cases/import/", bundle_views.case_import, name="case_import"),
    # the knowledge graph
    path("kg/", kg_views.kg_browse, name="kg_browse"),
    path("kg/search.json", kg_views.kg_search_json, name="kg_search_json"),
    path("kg/suggest/<str:node_id>.json", kg_views.kg_suggest_json, name="kg_suggest_json"),
    path("kg/ground.json", kg_views.kg_ground_json, name="kg_ground_json"),
    path("kg/nodes/<str:node_id>/", kg_views.kg_node, name="kg_node"),
    # the student simulation
    path("cases/<int:case_id>/open/", encounter_views.case_open, name="case_open"),
    path("encounters/<int:encounter_id>/", encounter_views.encounter_detail, name="encounter_detail"),
    path("encounters/<int:encounter_id>/diagnosis/", encounter_views.diagnosis_submit_view, name="diagnosis_submit"),
    # imaging
    path("imaging/jobs/<int:job_id>/", imaging_views.job_state_view, name="job_state"),
    path("imaging/jobs/<int:job_id>/display.png", imaging_views.job_display, name="job_display"),
    path("imaging/jobs/<int:job_id>/pixels", imaging_views.job_pixels, name="job_pixels"),
    # instructor review
    path("review/", review_views.cohort_list, name="review_cohorts"),
    path("review/cohorts/<int:cohort_id>/", review_views.cohort_sessions, name="review_sessions"),
    path("review/encounters/<int:encounter_id>/", review_views.encounter_replay, name="review_replay"),
]
