from django.contrib import admin

from chatbot.sites.models import Organisation, Plan, Site


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin[Site]):
    list_display = (
        "name",
        "key",
        "organisation",
        "is_active",
        "language",
        "answer_threshold",
        "clarify_margin",
        "created_at",
    )
    list_filter = ("organisation",)
    search_fields = ("name", "key")
    readonly_fields = ("faq_version", "created_at")


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin[Plan]):
    list_display = ("name", "monthly_answer_quota", "rate_limit_per_minute", "created_at")
    search_fields = ("name",)


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin[Organisation]):
    list_display = ("name", "slug", "plan", "created_at")
    list_filter = ("plan",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
