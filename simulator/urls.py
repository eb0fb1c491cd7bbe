from django.contrib.auth import views as auth_views
from django.urls import path

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
    path("cases/new/", case_views.case_new, name="case_new"),
    path("cases/<int:case_id>/edit/", case_views.case_edit, name="case_edit"),
    path("cases/<int:case_id>/publish/", case_views.case_publish_view, name="case_publish"),
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
