from django.contrib import admin

from chatbot.conversations.models import ContactRequest, Conversation, Message, Visitor


class MessageInline(admin.TabularInline[Message, Conversation]):
    model = Message
    fk_name = "conversation"
    extra = 0
    can_delete = False
    fields = ("seq", "sender", "language", "text", "intent", "confidence", "handoff_offered", "feedback", "created_at")
    readonly_fields = fields
    ordering = ("seq",)


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin[Conversation]):
    list_display = ("id", "site", "status", "language", "assignee", "last_seq", "csat", "created_at", "updated_at")
    list_filter = ("site", "status", "language")
    readonly_fields = ("visitor", "last_seq", "page_url", "user_agent", "created_at", "updated_at", "closed_at")
    inlines = [MessageInline]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin[Message]):
    list_display = ("conversation", "seq", "sender", "language", "text", "intent", "confidence", "created_at")
    list_filter = ("sender", "language", "intent", "handoff_offered", "feedback")
    search_fields = ("text",)
    raw_id_fields = ("conversation", "reply_to")


@admin.register(Visitor)
class VisitorAdmin(admin.ModelAdmin[Visitor]):
    list_display = ("public_id", "site", "created_at", "last_seen_at")
    list_filter = ("site",)


@admin.register(ContactRequest)
class ContactRequestAdmin(admin.ModelAdmin[ContactRequest]):
    list_display = ("email", "conversation", "created_at", "handled_at")
    list_filter = ("handled_at",)
    raw_id_fields = ("conversation",)
