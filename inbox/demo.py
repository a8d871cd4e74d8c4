"""A realistic, deterministic month of inbound traffic for `inbox demo`.

`generate(now)` returns the customer messages (as connectors would yield them) of a
fictional broadband and mobile provider, Northwind Mobile, over the `days` before `now`,
each with the agent actions the demo replays through the service afterwards (reply after
some delay, resolve, assign, tag). Pure: no I/O, no global random state; the same
arguments give the same list.
"""

from __future__ import annotations

import math
import random
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from inbox.model import Attachment, Channel, IdentityRef, Inbound

BRAND_NAME = "Northwind Mobile"
BRAND_HANDLE = "northwind_help"
BRAND_X_USER_ID = "1500000000000000001"
SUPPORT_EMAIL = "support@northwind.example"
FORM_URL = "https://northwind.example/help"
DEMO_AGENTS: tuple[tuple[str, str], ...] = (  # (email, display name) of the demo care team
    ("ava@northwind.example", "Ava Patel"),
    ("ben@northwind.example", "Ben Okafor"),
    ("chloe@northwind.example", "Chloe Martin"),
    ("dev@northwind.example", "Dev Sharma"),
)
LOCAL_TZ = ZoneInfo("Europe/London")  # the brand's customers and care team


@dataclass(frozen=True, slots=True)
class DemoItem:
    """One generated customer message and what the demo does with it afterwards."""

    inbound: Inbound  # the message as a connector would yield it
    reply_after: timedelta | None = None  # an agent answered this long after it arrived
    reply_text: str | None = None  # what the agent answered (set whenever reply_after is)
    resolve: bool = False  # the agent resolved the conversation with that reply
    assignee: str | None = None  # demo agent email the conversation is assigned to, or None
    tags: tuple[str, ...] = ()  # tags the agent put on the conversation


# --- Vocabulary -----------------------------------------------------------------------------

_B = "@" + BRAND_HANDLE
_TWITTER_EPOCH_MS = 1288834974657
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

_NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "en": (
        ("Sarah", "James", "Priya", "Tom", "Olivia", "Mohammed", "Emma", "Jack", "Aisha",
         "Daniel", "Chloe", "Liam", "Grace", "Ryan", "Sophie", "Connor", "Hannah", "Kwame",
         "Megan", "Oliver", "Zara", "Harry", "Niamh", "George", "Amelia", "Callum", "Fatima",
         "Lewis", "Ellie", "Rhys", "Jess", "Sam", "Rachel", "Declan", "Imogen", "Arjun",
         "Lucy", "Martin", "Bethany", "Theo"),
        ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies",
         "Patel", "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts",
         "Green", "Hall", "Wood", "Jackson", "Clarke", "Khan", "Hughes", "Edwards", "Mensah",
         "Murphy", "O'Neill", "Campbell", "Ahmed", "Lewis", "Harris", "Begum", "Turner",
         "Fraser", "McDonald", "Baker"),
    ),
    "es": (
        ("Lucía", "Javier", "Carmen", "Alejandro", "Marta", "Pablo", "Elena", "Diego"),
        ("García", "Fernández", "López", "Martínez", "Sánchez", "Romero", "Navarro", "Torres"),
    ),
    "fr": (
        ("Camille", "Julien", "Léa", "Antoine", "Manon", "Hugo", "Chloé", "Mathieu"),
        ("Martin", "Bernard", "Dubois", "Lefèvre", "Moreau", "Laurent", "Girard", "Fournier"),
    ),
    "de": (
        ("Lena", "Jonas", "Anna", "Lukas", "Mia", "Felix", "Katrin", "Tobias"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Wagner", "Becker", "Hoffmann"),
    ),
}
_MAIL_DOMAINS = ("example.com", "example.org", "example.net", "post.example", "inbox.example",
                 "mailbox.example")
_TOWNS = (("Leeds", "LS"), ("Manchester", "M"), ("Bristol", "BS"), ("Glasgow", "G"),
          ("Cardiff", "CF"), ("Brighton", "BN"), ("Norwich", "NR"), ("York", "YO"),
          ("Nottingham", "NG"), ("Leicester", "LE"), ("Sheffield", "S"), ("Newcastle", "NE"),
          ("Reading", "RG"), ("Oxford", "OX"), ("Belfast", "BT"), ("Edinburgh", "EH"),
          ("Croydon", "CR"), ("Hackney", "E"))
_PLANS = ("SIM Only 30GB", "Unlimited 5G", "Fibre 150", "Fibre 500", "Family Share",
          "Essentials 10GB", "Fibre 900", "Unlimited Max")
_DEVICES = ("iPhone 15", "iPhone 16 Pro", "Pixel 9", "Galaxy S24", "Galaxy A55", "Hub 3 router",
            "Moto G84", "iPhone 13")
_COUNTRIES = ("Spain", "France", "Portugal", "Italy", "Greece", "the USA", "Turkey", "Croatia")
_PROVIDERS = ("Contoso Telecom", "Fabrikam Mobile", "Litware Broadband", "Tailspin Mobile")
_X_ACCOUNTS = {BRAND_HANDLE: BRAND_X_USER_ID, "ofcom": "1500000000000000042"}  # handle -> id
_EMOJI = {
    "neg": ("😡", "🤬", "😤", "🙄", "😩", "👎", "💸", "📵", "🤦"),
    "pos": ("🙌", "👏", "😊", "💜", "🎉", "👍", "✨", "🚀"),
    "neu": ("🤔", "📱", "🙏", "👀"),
}

# Topic -> (weight, tag, mood). Mood: "neg", "neu" or "pos" (emoji and replies follow it).
_TOPICS: dict[str, tuple[int, str, str]] = {
    "billing": (14, "billing", "neg"),
    "refund": (9, "refund", "neg"),
    "invoice": (6, "invoice", "neu"),
    "outage": (12, "outage", "neg"),
    "no_signal": (10, "signal", "neg"),
    "roaming": (7, "roaming", "neu"),
    "contract": (9, "upgrade", "neu"),
    "porting": (6, "porting", "neu"),
    "speed": (11, "broadband", "neg"),
    "praise": (6, "praise", "pos"),
    "complaint": (10, "complaint", "neg"),
}
_FORM_TOPICS = {"billing": "Billing", "refund": "Billing", "invoice": "Billing",
                "outage": "Technical fault", "no_signal": "Technical fault",
                "speed": "Technical fault", "roaming": "Roaming", "contract": "Upgrades",
                "porting": "Switching", "praise": "Feedback", "complaint": "Complaint"}

# English templates per topic: tweets (mentions), DMs, email subjects, email paragraphs.
_EN_TWEETS: dict[str, tuple[str, ...]] = {
    "billing": (
        "{b} why has my bill gone up to £{amount} this month? Nothing changed on my {plan} plan",
        "{b} been charged twice for {month}. £{amount} x2. Sort it out please",
        "{b} can someone explain the £{extra} 'service charge' on my bill? Never agreed to it",
        "Hey {b}, my direct debit went out early and now I'm overdrawn. Not impressed",
        "{b} bill says I went over my data but I was on wifi all month?? £{extra} extra",
    ),
    "refund": (
        "{b} still waiting for the £{amount} refund I was promised {days} days ago. Where is it?",
        "{b} you took £{amount} AFTER I cancelled. I want it back",
        "3 weeks and no refund {b}. Third time asking.",
        "{b} refund ref {ref} says 'processed' but nothing in my bank. How long does it take?",
    ),
    "invoice": (
        "{b} how do I download a VAT invoice for my business account? Can't find it in the app",
        "{b} the invoice PDF for {month} won't open, just a blank page",
        "{b} is there a way to get itemised invoices emailed automatically every month?",
    ),
    "outage": (
        "{b} is there an outage in {town}? No internet since {time}",
        "{b} broadband down AGAIN in {town}. Working from home, this is costing me money",
        "Anyone else in {town} with no {b} internet? Lights on the hub flashing red",
        "{b} down for {hours} hours now. Status page says everything's fine. It isn't.",
        "{b} no broadband in {postcode} since {time}, any ETA?",
    ),
    "no_signal": (
        "{b} no signal at all in {town} since yesterday",
        "{b} my {device} keeps dropping to SOS only. Other networks are fine",
        "zero bars at home in {town} {b}, can't even make a call",
        "{b} 5G icon shows but nothing loads. {town} centre, all afternoon",
    ),
    "roaming": (
        "{b} in {country} and my data isn't working. Roaming is switched on",
        "{b} just got a text saying I'll be charged £{extra} a day in {country}?? "
        "thought roaming was included",
        "{b} does the {plan} plan include roaming in {country}? Flying out {day}",
    ),
    "contract": (
        "{b} can I upgrade to the {device} early? Contract ends in {months} months",
        "{b} my contract ended and the price went UP? Loyalty means nothing",
        "{b} what's the best you can do for an existing customer on the {device}?",
        "{b} thinking of moving to {plan}, can I switch mid-contract?",
    ),
    "porting": (
        "{b} ported my number from {old} {days} days ago and it still hasn't moved over",
        "{b} my PAC code isn't working, keeps saying invalid",
        "{b} how do I get a PAC code? Moving to {old}, sorry",
    ),
    "speed": (
        "{b} paying for {paid}Mbps and getting {speed} 🐌",
        "{b} speed test says {speed}Mbps on a {paid}Mbps package. Every single evening.",
        "{b} my {plan} broadband is slower than my phone's 4G",
        "{b} why does my connection crawl to {speed}Mbps after 7pm?",
    ),
    "praise": (
        "Shout out to {agent_first} at {b} who sorted my bill out in 5 minutes",
        "Have to say {b} has been brilliant since I switched. Fast and no drama",
        "{b} thanks for fixing the signal in {town}, it's flying now",
        "Honestly impressed with {b} support today. Thank you!",
        "Engineer from {b} came out this morning, fixed the line in 20 mins. Top service",
    ),
    "complaint": (
        "{b} worst customer service I've ever had. On hold {mins} minutes then cut off",
        "{b} I've explained this {n} times now. Does nobody read the notes?",
        "Seriously considering leaving {b}. {n} months of problems and nothing fixed",
        "{b} your chat bot is useless and there's no way to reach a human",
        "{b} promised a callback {days} days ago. Still nothing. @ofcom",
    ),
}
_EN_DMS: dict[str, tuple[str, ...]] = {
    "billing": (
        "Hi, I've been charged £{amount} this month instead of the usual £{usual}. "
        "Account {account}. Can you check?",
        "Hello, there's a charge of £{extra} on my {month} bill I don't recognise. "
        "Account number {account}.",
        "Hi there, I was charged twice for {month}. Account {account}, could you look please?",
    ),
    "refund": (
        "Hi, I was promised a refund of £{amount} on {date} (ref {ref}) but nothing has arrived.",
        "I cancelled my {plan} add-on but was still charged £{extra}. Please refund it. "
        "Account {account}.",
    ),
    "invoice": (
        "Hi, I need copies of my invoices for the last {months} months for my accountant. "
        "Account {account}.",
    ),
    "outage": (
        "Hi, my broadband has been down since {time} today. Postcode {postcode}. "
        "Is there a known fault?",
        "No internet at all since this morning, hub shows a red light. Account {account}.",
    ),
    "no_signal": (
        "Hi, no mobile signal at home ({postcode}) for {days} days. I've restarted my {device} "
        "and reset network settings.",
        "My phone says SOS only since yesterday. Number ends {last4}.",
    ),
    "roaming": (
        "Hi, I'm in {country} and can't use data even though roaming is on. Number ends {last4}.",
        "I've been charged £{extra} roaming fees in {country}, your website says it's included.",
    ),
    "contract": (
        "Hi, my contract ends on {date}. What upgrade offers do you have for the {device}?",
        "I'd like to switch to the {plan} plan. Can I do that mid-contract? Account {account}.",
    ),
    "porting": (
        "Hi, I requested a PAC on {date} but haven't received it. Number ends {last4}.",
        "My number port from {old} failed. Temporary number works but I need my old one back.",
    ),
    "speed": (
        "Hi, speeds drop to about {speed}Mbps every evening on my {paid}Mbps line. "
        "Account {account}.",
    ),
    "praise": (
        "Just wanted to say thanks to the team, the engineer today was great.",
        "Thanks {agent_first} for sorting my upgrade yesterday, really appreciated.",
    ),
    "complaint": (
        "I want to make a formal complaint. I've been passed between departments {n} times.",
        "Nobody has called me back as promised. Ref {ref}. This is unacceptable.",
    ),
}
_EN_SUBJECTS: dict[str, tuple[str, ...]] = {
    "billing": ("Bill increase - account {account}", "Double charge in {month}",
                "Question about my latest bill", "Unexpected charges on account {account}",
                "Why is my bill £{amount}?"),
    "refund": ("Refund not received - ref {ref}", "Refund request for account {account}",
               "Still waiting for my refund"),
    "invoice": ("VAT invoice request", "Invoices for {month}", "Copy of invoice needed"),
    "outage": ("Broadband down since {day}", "No internet in {town}",
               "Outage - account {account}", "Service down again"),
    "no_signal": ("No signal at home", "Phone shows SOS only", "Mobile signal problem in {town}"),
    "roaming": ("Roaming charges from {country}", "Data not working abroad",
                "Roaming question before my trip to {country}"),
    "contract": ("Upgrade options", "End of contract - what are my options?",
                 "Price rise after contract end", "Switching to {plan}"),
    "porting": ("Number transfer not completed", "PAC code request",
                "Porting my number from {old}"),
    "speed": ("Slow broadband speeds", "Not getting the speed I pay for",
              "Speed drops every evening"),
    "praise": ("Thank you", "Great service from your team", "Compliment for {agent_first}"),
    "complaint": ("Formal complaint", "Complaint - still not resolved", "I want to escalate this",
                  "Final letter before I go to the ombudsman"),
}
_EN_PARAS: dict[str, tuple[str, ...]] = {
    "billing": (
        "My bill for {month} came to £{amount}, but I normally pay £{usual} on the {plan} plan. "
        "I haven't changed anything or used any extras as far as I know.",
        "There is a line on the bill for £{extra} called 'additional services' which I never "
        "asked for. Could you explain what it is and remove it?",
        "The direct debit was taken twice on {date}. I'd like the duplicate payment returned as "
        "soon as possible as it has left me short this month.",
        "The app shows a different amount from the PDF bill, which makes no sense to me.",
    ),
    "refund": (
        "On {date} I was told a refund of £{amount} would be paid within five working days "
        "(reference {ref}). It has not arrived.",
        "I cancelled my {plan} add-on last month but you still took £{extra}. Please refund it.",
        "I have checked with my bank and nothing has come in from Northwind.",
    ),
    "invoice": (
        "Could you send me a VAT invoice for {month}? I need it for an expenses claim and the app "
        "only shows a summary.",
        "Our company name is wrong on the invoices, it should be {company} Ltd. Please correct it "
        "and reissue the last three.",
        "I need itemised invoices for the last {months} months for my accountant.",
    ),
    "outage": (
        "My broadband has been completely down since {time} on {day}. The hub light is red and "
        "restarting it makes no difference.",
        "I work from home and this is the {nth} outage this month. I need to know when it will "
        "be fixed and what compensation you offer.",
        "Your status page says there are no problems in {postcode} but my neighbours have no "
        "connection either.",
    ),
    "no_signal": (
        "For the last {days} days I've had no mobile signal at home in {town} ({postcode}). "
        "I've restarted my {device}, reset the network settings and tried another SIM.",
        "Calls drop after a few seconds and texts arrive hours late. My partner is on another "
        "network and has full signal in the same room.",
        "Is there a mast down near me? I rely on my phone for work.",
    ),
    "roaming": (
        "I'm travelling to {country} on {date} and want to check whether roaming is included "
        "in my {plan} plan, and what the daily charge is if not.",
        "While I was in {country} I was charged £{extra} in roaming fees, but the website said "
        "it was included. Please refund these charges.",
        "My data did not work at all abroad even though roaming was switched on.",
    ),
    "contract": (
        "My contract ends on {date}. I'd like to upgrade to the {device} but the prices on the "
        "website are higher than for new customers.",
        "Since my contract ended the monthly price has gone up by £{extra}. Nobody told me.",
        "I'd like to move to the {plan} plan. Please let me know if there is a fee.",
    ),
    "porting": (
        "I asked for my number to be moved from {old} on {date}. It still hasn't been "
        "transferred and I'm missing calls.",
        "The PAC code I got from {old} is being rejected as invalid on your website.",
        "Could you send me a PAC code? Number ends {last4}.",
    ),
    "speed": (
        "I pay for {paid}Mbps on {plan} but speed tests show {speed}Mbps most evenings, "
        "wired to the router.",
        "Speeds are fine in the morning but after 7pm they drop to almost nothing. "
        "Video calls are impossible.",
        "I've restarted the router and checked the cables. Can you check the line from your end?",
    ),
    "praise": (
        "I wanted to say a big thank you to {agent_first}, who sorted out my bill quickly and "
        "kindly last week.",
        "The engineer who came out on {day} was polite, explained everything and fixed the "
        "problem in half an hour.",
        "After years with {old} it's refreshing to deal with a provider that actually answers.",
    ),
    "complaint": (
        "I want to make a formal complaint about how my case ({ref}) has been handled.",
        "I have now spoken to {n} different people, each of whom promised a callback that "
        "never came.",
        "I have been a customer for {years} years and I'm seriously considering leaving.",
    ),
}
_EN_FORMS: dict[str, tuple[str, ...]] = {
    "billing": ("My latest bill is £{amount}, normally £{usual}. Please explain the difference.",
                "I was charged twice in {month}. Please refund the duplicate payment."),
    "refund": ("Refund of £{amount} promised on {date} (ref {ref}) still not received.",),
    "invoice": ("Please email me VAT invoices for the last {months} months.",),
    "outage": ("No broadband since {time} on {day}. Postcode {postcode}. Hub light red.",),
    "no_signal": ("No signal at home for {days} days, {postcode}. Restarted phone already.",),
    "roaming": ("Is roaming in {country} included in {plan}? Travelling on {date}.",),
    "contract": ("Contract ends {date}, want to upgrade to {device}. Please call me.",),
    "porting": ("Please send a PAC code for my number ending {last4}.",
                "Number transfer from {old} requested on {date} still not done."),
    "speed": ("Paying for {paid}Mbps, getting {speed}Mbps in the evenings. Please check line.",),
    "praise": ("Just a note to say thanks to {agent_first} for the help last week!",),
    "complaint": ("I want to complain about the handling of case {ref}. Nobody calls back.",),
}
_EN_LONG = (
    "To give you the full history: I first reported this on {date} by phone and was given "
    "reference {ref}. I was told it would be fixed within 48 hours. On the follow-up call I was "
    "put on hold for {mins} minutes and then cut off. I then used the online chat, where the "
    "agent told me there was no record of my earlier call at all.",
    "Since then I have had three text messages saying my issue was resolved, none of which was "
    "true, and a survey asking me to rate the service, which I found frankly insulting given "
    "the circumstances.",
    "I have been a loyal customer for {years} years and have always paid on time. I have "
    "recommended Northwind to family and friends, which I am now starting to regret.",
    "I would like the following: 1) a clear explanation of what went wrong, 2) a timeline for "
    "fixing it, 3) compensation for the time I have lost, and 4) a named person I can contact "
    "rather than starting from scratch each time.",
    "Please do not send another templated reply. I have now explained this {n} times to "
    "different people and I expect someone to read this email in full.",
    "For the record, here is what has happened so far. On {date} the line dropped completely. "
    "The next day an engineer was booked but never arrived, and nobody called to explain. Two "
    "days later a second engineer came, said the fault was in the street cabinet, and left "
    "without fixing anything. Since then I have been using my phone as a hotspot, which has "
    "eaten through my data allowance, and now I am being charged £{extra} for going over it.",
    "I appreciate that faults happen, and I am not unreasonable. What I cannot accept is being "
    "told different things by every person I speak to, and being asked for the same details "
    "again and again. Your own systems should have all of this on record by now.",
    "If I do not get a satisfactory answer within 14 days I will take this to Ofcom and the "
    "ombudsman, as is my right.",
)
_EN_RESPOND = (
    "Thanks. My account number is {account}.",
    "I've tried that already, still the same.",
    "Done, restarted it twice. No change.",
    "OK, thanks for looking into it. How long will it take?",
    "That's not good enough. I want this escalated.",
    "Postcode is {postcode}, number ends {last4}.",
    "Right, so what happens now?",
)
_EN_THANKS = (
    "That's fixed it, thank you!",
    "All working now, thanks for your help.",
    "Great, that's sorted. Thanks!",
)
_EN_CHASE = (
    "Any update on this?",
    "Hello? Still waiting for a reply.",
    "It's been {hours} hours. Is anyone actually reading these?",
    "Chasing this again. Still not sorted.",
    "Still nothing. Really poor.",
)
_EN_SWITCH = {  # (earlier channel, this channel): how the customer refers to the earlier contact
    ("x", "email"): ("I contacted you on X (@{handle}) about this and was told to email.",
                     "I've already messaged you on Twitter (@{handle}) and I'm still waiting."),
    ("webform", "email"): ("Thanks for your reply to my contact form.",
                           "Following up on my contact form."),
    ("x", "webform"): ("Filling this in as your team on X (@{handle}) asked.",
                       "As requested on Twitter, here are my details."),
    ("email", "webform"): ("I emailed about this already and heard nothing.",),
    ("email", "mention"): ("emailed you about this, no reply. Trying here.",),
    ("webform", "mention"): ("following up on my contact form, nobody replied.",
                             "sent your contact form earlier, still waiting."),
    ("x", "dm"): ("As asked, here are the details.", "Hi, following up on my tweet."),
}
_EN_GREET = ("Hi,", "Hello,", "Dear Northwind Mobile,", "Hi there,", "To whom it may concern,",
             "Good morning,")
_EN_SIGN = ("Thanks,\n{name}", "Regards,\n{name}", "Kind regards,\n{name}\nMobile: {phone}",
            "Cheers,\n{first}", "{first}\n\nSent from my iPhone", "Many thanks\n{name}")
_EN_SHORT = ("Thanks in advance.", "I look forward to hearing from you.",
             "Please could someone get back to me today.", "")

# Other languages: fewer topics and templates. No month or weekday names in these (slots are
# English); dates are dd/mm.
_L10N: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {
    "es": {
        "billing": {"tweet": ("{b} ¿por qué mi factura es de {amount} £? Siempre pago {usual} £",),
                    "subject": ("Cobro incorrecto en mi factura",),
                    "para": ("Este mes me habéis cobrado {amount} £ en vez de {usual} £. No he "
                             "cambiado nada en mi tarifa {plan}. Mi cuenta es {account}.",)},
        "roaming": {"tweet": ("{b} estoy en {country} y los datos no funcionan, el roaming "
                              "está activado",),
                    "subject": ("Problema con el roaming",),
                    "para": ("Estoy de viaje en {country} y no puedo usar datos móviles aunque "
                             "tengo el roaming activado. Mi número termina en {last4}.",)},
        "outage": {"tweet": ("{b} sin internet en {town} desde esta mañana. ¿Hay alguna avería?",),
                   "subject": ("Sin conexión a internet",),
                   "para": ("Llevo sin internet desde el {date}. He reiniciado el router varias "
                            "veces y la luz sigue en rojo.",)},
        "praise": {"tweet": ("Gracias {b}, me habéis solucionado el problema en cinco minutos",),
                   "subject": ("Gracias",),
                   "para": ("Solo quería dar las gracias a {agent_first} por su ayuda.",)},
        "complaint": {"tweet": ("{b} llevo {days} días esperando una llamada. Pésimo servicio",),
                      "subject": ("Reclamación formal",),
                      "para": ("Quiero presentar una reclamación. Me prometieron una llamada "
                               "hace {days} días y nadie me ha contactado (ref. {ref}).",)},
    },
    "fr": {
        "billing": {"tweet": ("{b} pourquoi ma facture est de {amount} £ ce mois-ci ? "
                              "D'habitude c'est {usual} £",),
                    "subject": ("Erreur sur ma facture",),
                    "para": ("Ma dernière facture s'élève à {amount} £ alors que je paie "
                             "normalement {usual} £. Mon numéro de compte est {account}.",)},
        "roaming": {"tweet": ("{b} je suis en {country} et les données ne marchent pas, "
                              "l'itinérance est activée",),
                    "subject": ("Itinérance à l'étranger",),
                    "para": ("Je suis en voyage et je n'arrive pas à utiliser les données "
                             "mobiles. Mon numéro se termine par {last4}.",)},
        "no_signal": {"tweet": ("{b} aucun réseau à {town} depuis hier soir",),
                      "subject": ("Pas de réseau",),
                      "para": ("Je n'ai plus de réseau chez moi depuis {days} jours. J'ai "
                               "redémarré mon {device} sans succès.",)},
        "praise": {"tweet": ("Merci {b}, problème réglé en quelques minutes, bravo",),
                   "subject": ("Merci",),
                   "para": ("Je voulais remercier {agent_first} pour son aide rapide.",)},
        "complaint": {"tweet": ("{b} {n} appels et toujours aucune solution. Inadmissible",),
                      "subject": ("Réclamation",),
                      "para": ("Je souhaite déposer une réclamation concernant le dossier {ref}. "
                               "Personne ne m'a rappelé.",)},
    },
    "de": {
        "billing": {"tweet": ("{b} warum ist meine Rechnung {amount} £? Normalerweise {usual} £",),
                    "subject": ("Falsche Rechnung",),
                    "para": ("Meine letzte Rechnung beträgt {amount} £, normalerweise zahle ich "
                             "{usual} £. Meine Kundennummer ist {account}.",)},
        "speed": {"tweet": ("{b} ich zahle für {paid} Mbit/s und bekomme {speed}. Jeden Abend",),
                  "subject": ("Langsames Internet",),
                  "para": ("Ich bezahle für {paid} Mbit/s, aber abends messe ich nur {speed} "
                           "Mbit/s, per Kabel am Router.",)},
        "contract": {"tweet": ("{b} kann ich vorzeitig auf das {device} upgraden?",),
                     "subject": ("Vertragsverlängerung",),
                     "para": ("Mein Vertrag endet am {date}. Welche Angebote gibt es für das "
                              "{device}?",)},
        "praise": {"tweet": ("Danke {b}, super schneller Support heute",),
                   "subject": ("Vielen Dank",),
                   "para": ("Ich möchte mich bei {agent_first} für die schnelle Hilfe bedanken.",)},
        "complaint": {"tweet": ("{b} seit {days} Tagen warte ich auf einen Rückruf. Unmöglich",),
                      "subject": ("Beschwerde",),
                      "para": ("Ich möchte mich über die Bearbeitung meines Falls {ref} "
                               "beschweren. Niemand hat mich zurückgerufen.",)},
    },
}
_L10N_MISC = {  # greeting, sign-offs, follow-ups (respond, chase), agent replies
    "es": {"greet": ("Hola,", "Buenas tardes,"), "sign": ("Saludos,\n{name}", "Gracias,\n{name}"),
           "respond": ("Gracias, mi número de cuenta es {account}.", "Sigue igual, no funciona."),
           "thanks": ("¡Ya funciona, gracias!",),
           "chase": ("¿Alguna novedad?", "Sigo esperando una respuesta."),
           "ask": "Hola {first}, lo sentimos. ¿Nos indicas tu número de cuenta?",
           "to_dm": "Hola {first}, ¿nos escribes por mensaje directo con tu número de cuenta?",
           "fix": "Hola {first}, ya está solucionado. ¡Gracias por tu paciencia!",
           "hold": "Hola {first}, lo hemos pasado al equipo técnico (ref. {ref}). Te avisamos.",
           "glad": "¡Nos alegra que ya funcione, {first}!",
           "praise": "¡Muchas gracias, {first}! Se lo diremos al equipo."},
    "fr": {"greet": ("Bonjour,", "Madame, Monsieur,"),
           "sign": ("Cordialement,\n{name}", "Merci d'avance,\n{name}"),
           "respond": ("Merci, mon numéro de compte est {account}.",
                       "Toujours le même problème."),
           "thanks": ("Ça marche maintenant, merci !",),
           "chase": ("Des nouvelles ?", "J'attends toujours une réponse."),
           "ask": "Bonjour {first}, désolés. Pouvez-vous nous indiquer votre numéro de compte ?",
           "to_dm": "Bonjour {first}, pouvez-vous nous écrire en message privé avec votre "
                    "numéro de compte ?",
           "fix": "Bonjour {first}, c'est réglé. Merci de votre patience !",
           "hold": "Bonjour {first}, nous avons transmis à l'équipe technique (réf. {ref}).",
           "glad": "Ravis que tout fonctionne, {first} !",
           "praise": "Merci beaucoup, {first} ! Nous transmettons à l'équipe."},
    "de": {"greet": ("Hallo,", "Sehr geehrte Damen und Herren,"),
           "sign": ("Viele Grüße,\n{name}", "Mit freundlichen Grüßen\n{name}"),
           "respond": ("Danke, meine Kundennummer ist {account}.", "Immer noch das gleiche "
                       "Problem."),
           "thanks": ("Jetzt funktioniert es, danke!",),
           "chase": ("Gibt es etwas Neues?", "Ich warte immer noch auf eine Antwort."),
           "ask": "Hallo {first}, das tut uns leid. Kannst du uns deine Kundennummer nennen?",
           "to_dm": "Hallo {first}, schickst du uns deine Kundennummer per DM?",
           "fix": "Hallo {first}, das ist jetzt behoben. Danke für deine Geduld!",
           "hold": "Hallo {first}, wir haben das an die Technik weitergegeben (Ref. {ref}).",
           "glad": "Schön, dass es wieder läuft, {first}!",
           "praise": "Vielen Dank, {first}! Wir geben das ans Team weiter."},
}

# Agent replies (English).
_FIX: dict[str, tuple[str, ...]] = {
    "billing": ("we've checked and the extra £{extra} was our mistake. It's been credited back "
                "to your account.",
                "the increase was the annual price change, but we've added a £{extra} goodwill "
                "credit to your next bill."),
    "refund": ("the refund of £{amount} was issued today, please allow 3-5 working days.",
               "we've chased the refund (ref {ref}) and it's now on its way to your bank."),
    "invoice": ("your invoices are on their way to your email now.",
                "we've corrected the company name and reissued the invoices."),
    "outage": ("there was a fault at the {town} exchange. It's fixed now, please restart "
               "your hub if you're still offline.",
               "the engineers fixed the fault this afternoon and we've added a credit for the "
               "downtime."),
    "no_signal": ("a mast near {postcode} was down for maintenance. It's back up now.",
                  "we've reset your connection on our side, signal should be back within the "
                  "hour."),
    "roaming": ("roaming in {country} is included in your plan, we've refunded the £{extra}.",
                "we've re-enabled roaming on your SIM, please restart your phone."),
    "contract": ("we've sent you our best upgrade offer for the {device} by email.",
                 "you can switch to {plan} at no extra fee, we've made the change."),
    "porting": ("your number transfer completed this afternoon.",
                "we've sent a new PAC code by text, it's valid for 30 days."),
    "speed": ("we've found a fault on your line and booked an engineer for {day}.",
              "we've reset your line profile, speeds should improve within 24 hours."),
    "praise": ("thank you so much for the kind words, we'll pass them on to the team 💜",),
    "complaint": ("I'm really sorry. I've escalated your case ({ref}) to our complaints team and "
                  "a manager will call you within 24 hours.",
                  "I'm sorry for how this was handled. I've taken ownership of your case and "
                  "applied a £{extra} credit."),
}
_ASK = ("sorry to hear that. Could you send us a DM with your account number so we can look "
        "into it?",
        "we'd like to help. Please DM us your account number and postcode.")
_TO_FORM = ("to verify your account, please fill in the form at " + FORM_URL + " and we'll "
            "pick it up from there.",)
_TO_EMAIL = ("please email us at " + SUPPORT_EMAIL + " with the details and we'll sort it.",)
_NEED_INFO = ("could you confirm your account number and the postcode of the service "
              "address?",
              "could you try restarting your device and let us know if that changes anything?",
              "thanks for the details. We're checking this now.")
_GLAD = ("glad to hear that's sorted! If anything else comes up, just get in touch.",
         "great news, thanks for letting us know.")
_HOLD = ("we've raised this with the technical team (ref {ref}) and will update you as soon "
         "as we hear back.",
         "we're still looking into this and will come back to you within 24 hours.")

_LISTENING_EN = (
    "Thinking of switching to Northwind for broadband, anyone got it? Any good?",
    "northwind signal in {town} is a joke today",
    "Got the {device} on Northwind Mobile, 5G is quick in {town} ⚡",
    "Why is every mobile provider putting prices up in April 🙄 #northwind",
    "Which broadband provider is actually decent in {town}? Mine keeps dropping 😩",
    "Roaming charges in {country} are daylight robbery. Any UK network that includes it?",
    "Is it just me or is 5G in {town} slower than 4G?",
    "Switching mobile network next week, porting a number is always a nightmare",
    "Northwind Mobile ad on the telly again. Wish their coverage was as good as their adverts",
    "Been with Northwind {years} years, never had a problem tbh",
    "best SIM only deals right now? Contract's up and {old} want £{amount} a month 💸",
    "Fibre finally arrived on our street in {town} 🎉 goodbye 10Mbps",
)
_LISTENING_L10N = {
    "es": ("¿Alguien usa Northwind Mobile en Reino Unido? ¿Qué tal la cobertura?",),
    "fr": ("Quelqu'un connaît Northwind Mobile ? Le roaming est inclus ?",),
    "de": ("Hat jemand Erfahrung mit Northwind Mobile in {town}?",),
}
_LISTENING_RULES = ("northwind", "broadband OR fibre", "5G OR signal", "roaming", "switching "
                    "provider")

# Relative volume by local hour (care team's time zone); weekends carry less traffic.
_HOURLY = (0.08, 0.05, 0.04, 0.03, 0.03, 0.05, 0.12, 0.3, 0.62, 0.9, 1.0, 1.0, 0.92, 0.95,
           0.97, 0.9, 0.82, 0.7, 0.58, 0.55, 0.5, 0.42, 0.28, 0.15)
_WEEKEND = 0.55


# --- Generation -----------------------------------------------------------------------------


@dataclass(slots=True)
class _Person:
    name: str
    first: str
    lang: str
    email: str
    handle: str
    x_id: str
    phone: str | None
    channels: tuple[str, ...]  # of "email", "x", "webform"
    weight: float


@dataclass(slots=True)
class _Step:
    """One customer message being drafted, and what the agent did about it."""

    inbound: Inbound
    reply_after: timedelta | None = None
    reply_text: str | None = None
    resolve: bool = False


class _Gen:
    def __init__(self, rng: random.Random, end: datetime, days: int) -> None:
        self.rng = rng
        self.end = end
        self.begin = end - timedelta(days=days)
        self.items: list[DemoItem] = []
        self.used: set[tuple[str, str]] = set()
        self.handles: set[str] = set()
        self.emails: set[str] = set()
        self.phones: set[str] = set()

    # -- ids -------------------------------------------------------------------------------

    def _snowflake(self, t: datetime, prefix: str = "") -> str:
        ms = int(t.timestamp() * 1000) - _TWITTER_EPOCH_MS
        while True:
            value = f"{prefix}{(ms << 22) | self.rng.getrandbits(22)}"
            if ("x", value) not in self.used:
                self.used.add(("x", value))
                return value

    def _message_id(self) -> str:
        while True:
            value = f"{self.rng.getrandbits(64):016x}.{self.rng.getrandbits(24):06x}@mail.example"
            if ("email", value) not in self.used:
                self.used.add(("email", value))
                return value

    def _form_id(self) -> str:
        while True:
            value = "form:" + str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
            if ("webform", value) not in self.used:
                self.used.add(("webform", value))
                return value

    # -- people ----------------------------------------------------------------------------

    def person(self, channels: tuple[str, ...]) -> _Person:
        rng = self.rng
        lang = rng.choices(("en", "es", "fr", "de"), (88, 4, 4, 4))[0]
        firsts, lasts = _NAMES[lang]
        first, last = rng.choice(firsts), rng.choice(lasts)
        plain_first, plain_last = _ascii(first), _ascii(last).replace("'", "")
        while True:
            local = rng.choice((f"{plain_first}.{plain_last}", f"{plain_first}{plain_last}"
                                f"{rng.randint(1, 99)}", f"{plain_first[0]}.{plain_last}",
                                f"{plain_first}_{rng.randint(70, 99)}"))
            email = f"{local}@{rng.choice(_MAIL_DOMAINS)}"
            if email.lower() not in self.emails:
                self.emails.add(email.lower())
                break
        while True:
            handle = rng.choice((f"{plain_first}{plain_last}", f"{plain_first}_{plain_last[0]}"
                                 f"{rng.randint(1, 99)}", f"{plain_last}{plain_first[0]}",
                                 f"the_{plain_first.lower()}{rng.randint(1, 999)}",
                                 f"{plain_first.lower()}{rng.randint(1980, 2006)}"))[:15]
            if handle.lower() not in self.handles:
                self.handles.add(handle.lower())
                break
        phone = None
        if rng.random() < 0.6 and len(self.phones) < 1000:  # Ofcom's drama range: 07700 900xxx
            while phone is None or phone in self.phones:
                phone = f"+447700900{rng.randint(0, 999):03d}"
            self.phones.add(phone)
        return _Person(name=f"{first} {last}", first=first, lang=lang, email=email,
                       handle=handle, x_id=str(rng.randint(10**17, 2 * 10**18)), phone=phone,
                       channels=channels, weight=rng.lognormvariate(0, 0.5))

    # -- time ------------------------------------------------------------------------------

    def when(self) -> datetime:
        """A moment in the window, following the daily and weekly rhythm."""
        rng, span = self.rng, (self.end - self.begin).total_seconds()
        while True:
            t = self.begin + timedelta(seconds=int(rng.random() * span))
            local = t.astimezone(LOCAL_TZ)
            weight = _HOURLY[local.hour] * (_WEEKEND if local.weekday() >= 5 else 1.0)
            if rng.random() < weight:
                return t

    def reply_delay(self, kind: str, t: datetime) -> timedelta:
        """How long the care team took to answer a message that arrived at `t`."""
        rng = self.rng
        social = kind in ("mention", "dm")
        median = 25 * 60 if social else 4 * 3600
        seconds = min(max(rng.lognormvariate(math.log(median), 1.15), 90), 1.5 * 86400)
        done = t + timedelta(seconds=seconds)
        local = done.astimezone(LOCAL_TZ)
        opens, closes = (7, 23) if social else (8, 18)
        if not opens <= local.hour < closes or (not social and local.weekday() == 6):
            nxt = local if local.hour < opens else local + timedelta(days=1)
            if not social and nxt.weekday() == 6:
                nxt += timedelta(days=1)
            nxt = nxt.replace(hour=opens, minute=rng.randint(0, 50), second=rng.randint(0, 59),
                              microsecond=0)
            done = nxt.astimezone(UTC)
        return timedelta(seconds=max(int((done - t).total_seconds()), 60))

    def customer_delay(self, kind: str) -> timedelta:
        median = 40 * 60 if kind in ("mention", "dm") else 3 * 3600
        return timedelta(seconds=int(min(self.rng.lognormvariate(math.log(median), 1.0),
                                         3 * 86400)))

    # -- text ------------------------------------------------------------------------------

    def slots(self, p: _Person, t: datetime) -> dict[str, str]:
        rng = self.rng
        town, area = rng.choice(_TOWNS)
        usual = rng.uniform(18, 75)
        paid = rng.choice((150, 500, 900, 80))
        return {
            "b": _B, "first": p.first, "name": p.name, "handle": p.handle,
            "phone": _display_phone(p.phone or f"+447700900{rng.randint(0, 999):03d}"),
            "amount": f"{usual + rng.uniform(8, 60):.2f}", "usual": f"{usual:.2f}",
            "extra": rng.choice(("4.99", "7.50", "12.00", "15.99", "23.40", "36.00", "58.20")),
            "month": _MONTHS[(t.month - 2) % 12],
            "date": (t - timedelta(days=rng.randint(2, 20))).strftime("%d/%m"),
            "day": _WEEKDAYS[(t.weekday() - rng.randint(0, 3)) % 7],
            "time": rng.choice(("6am", "7am", "8am", "9am", "10am", "lunchtime", "midnight")),
            "plan": rng.choice(_PLANS), "device": rng.choice(_DEVICES),
            "account": f"NW{rng.randint(10**7, 10**8 - 1)}",
            "ref": f"CAS-{rng.randint(100000, 999999)}", "days": str(rng.randint(2, 12)),
            "hours": str(rng.randint(3, 30)), "town": town,
            "postcode": f"{area}{rng.randint(1, 20)} {rng.randint(1, 9)}"
                        f"{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}",
            "last4": f"{rng.randint(0, 9999):04d}", "country": rng.choice(_COUNTRIES),
            "months": str(rng.randint(2, 9)), "paid": str(paid),
            "speed": str(max(2, int(paid * rng.uniform(0.03, 0.25)))),
            "old": rng.choice(_PROVIDERS), "company": rng.choice(("Hartley Joinery", "Bluebell "
                                                                  "Cafe", "Kestrel Design")),
            "nth": rng.choice(("third", "fourth", "fifth")), "n": str(rng.randint(3, 7)),
            "mins": str(rng.randint(25, 95)), "years": str(rng.randint(2, 14)),
            "agent_first": rng.choice(DEMO_AGENTS)[1].split()[0],
        }

    def emoji(self, mood: str, chance: float = 0.55) -> str:
        if self.rng.random() < chance:
            return " " + "".join(self.rng.choices(_EMOJI[mood], k=self.rng.choice((1, 1, 2))))
        return ""

    def opening(self, kind: str, topic: str, p: _Person, slots: dict[str, str],
                switched_from: str | None, long: bool = False) -> tuple[str, str | None]:
        """(text, email subject) of the first message of a thread."""
        rng, mood = self.rng, _TOPICS[topic][2]
        if p.lang != "en":
            loc = _L10N[p.lang][topic]
            tweet = rng.choice(loc["tweet"])
            para = rng.choice(loc["para"])
            subject = rng.choice(loc["subject"]).format(**slots)
            misc = _L10N_MISC[p.lang]
            if kind == "mention":
                return (tweet.format(**slots) + self.emoji(mood)), None
            if kind == "dm":
                return tweet.replace("{b} ", "").format(**slots), None
            if kind == "webform":
                return para.format(**slots), subject
            text = "\n\n".join((rng.choice(misc["greet"]), para, rng.choice(misc["sign"])))
            return text.format(**slots), subject
        switch = ""
        earlier = "x" if switched_from in ("mention", "dm") else switched_from
        if earlier is not None and (earlier, kind) in _EN_SWITCH:
            switch = rng.choice(_EN_SWITCH[earlier, kind])
        if kind == "mention":
            text = rng.choice(_EN_TWEETS[topic])
            if switch:
                text = f"{_B} {switch} " + text.replace("{b} ", "").replace(" {b}", "")
            text = text.format(**slots) + self.emoji(mood)
            return _clip(text, 280), None
        if kind == "dm":
            text = rng.choice(_EN_DMS[topic])
            if switch:
                text = switch[0].upper() + switch[1:] + " " + text
            return text.format(**slots) + self.emoji(mood, 0.15), None
        subject = rng.choice(_EN_SUBJECTS[topic]).format(**slots)
        if kind == "webform":
            text = rng.choice(_EN_FORMS[topic] + _EN_PARAS[topic])
            if switch:
                text = switch + " " + text
            return text.format(**slots), subject
        paras = list(_EN_PARAS[topic])
        rng.shuffle(paras)
        body = paras if long else paras[: rng.choice((1, 1, 2, 2, 3))]
        if switch:
            body.insert(0, switch)
        if long:
            body += list(_EN_LONG)
        tail = rng.choice(_EN_SHORT)
        parts = [rng.choice(_EN_GREET), *body, *([tail] if tail else []), rng.choice(_EN_SIGN)]
        return "\n\n".join(parts).format(**slots), subject

    def follow_up(self, kind: str, p: _Person, slots: dict[str, str], answered: bool,
                  closing: bool = False) -> str:
        """A customer's next message in a thread: answer, thanks (closing) or chaser."""
        rng = self.rng
        which = "thanks" if closing else "respond" if answered else "chase"
        if p.lang != "en":
            line = rng.choice(_L10N_MISC[p.lang][which])
        else:
            line = rng.choice({"thanks": _EN_THANKS, "respond": _EN_RESPOND,
                               "chase": _EN_CHASE}[which])
            if kind == "email":
                line = "\n\n".join((rng.choice(("Hi,", "Hello,", "Hi again,")), line,
                                    rng.choice(_EN_SIGN)))
        text = line.format(**slots)
        if kind == "mention":
            text = f"{_B} {text}" + self.emoji("neu" if answered else "neg", 0.3)
        return text

    def agent_text(self, kind: str, topic: str, p: _Person, slots: dict[str, str], what: str,
                   agent: str | None) -> str:
        """The agent's reply. `what`: fix, hold, glad, ask (in the thread), to_dm, to_form,
        to_email."""
        rng = self.rng
        agent_name = dict(DEMO_AGENTS).get(agent or "", "Customer Care")
        initials = "".join(w[0] for w in agent_name.split()[:2]) if agent else "NM"
        if topic == "praise" and what in ("fix", "hold", "ask", "glad"):
            what = "praise"
        if p.lang != "en" and what in _L10N_MISC[p.lang]:
            line = str(_L10N_MISC[p.lang][what]).format(**slots)
            return f"{line} ^{initials}" if kind in ("mention", "dm") else line
        pool = {"fix": _FIX[topic], "hold": _HOLD, "ask": _NEED_INFO, "to_dm": _ASK,
                "to_form": _TO_FORM, "to_email": _TO_EMAIL, "glad": _GLAD,
                "praise": _FIX["praise"]}[what]
        body = rng.choice(pool).format(**slots)
        if kind in ("mention", "dm"):
            return _clip(f"Hi {p.first}, {body} ^{initials}", 280)
        thanks = "" if what in ("ask", "glad", "praise") else (
            f"Thank you for contacting {BRAND_NAME}. ")
        return (f"Hi {p.first},\n\n{thanks}{body[0].upper()}{body[1:]}\n\nKind regards,\n"
                f"{agent_name}\n{BRAND_NAME} Support")

    # -- messages --------------------------------------------------------------------------

    def x_authors(self, p: _Person) -> tuple[IdentityRef, ...]:
        return (IdentityRef("x", p.x_id, label=p.handle),
                IdentityRef("x_handle", p.handle.lower(), label=p.handle))

    def tweet(self, p: _Person, t: datetime, text: str, *, conv: str | None = None,
              parent: str | None = None, listening: bool = False,
              rule: str | None = None) -> Inbound:
        tid = self._snowflake(t)
        conv = conv or tid
        names = [w[1:].rstrip(".,!?:") for w in text.split() if w.startswith("@")]
        mentions = [{"id": _X_ACCOUNTS.get(n.lower()), "username": n} for n in names]
        meta: dict[str, object] = {
            "kind": "tweet", "tweet_id": tid, "conversation_id": conv, "author_id": p.x_id,
            "username": p.handle, "url": f"https://x.com/{p.handle}/status/{tid}",
            "mentions": mentions, "mentions_brand": BRAND_HANDLE in (n.lower() for n in names),
            "referenced_tweets": [{"type": "replied_to", "id": parent}] if parent else [],
        }
        if parent:
            meta["in_reply_to_tweet_id"] = parent
            meta["in_reply_to_user_id"] = p.x_id
        if rule:
            meta["rule"] = rule
        return Inbound(
            channel=Channel.X, external_id=tid, authors=self.x_authors(p), text=text,
            created_at=t, author_name=p.name, lang=p.lang,
            thread_keys=(f"x:tweet:{tid}", f"x:conv:{conv}"),
            parent_keys=(f"x:tweet:{parent}", f"x:conv:{conv}") if parent else (),
            listening=listening, meta=meta)

    def dm(self, p: _Person, t: datetime, text: str) -> Inbound:
        event = self._snowflake(t, "dm:")
        low, high = sorted((int(BRAND_X_USER_ID), int(p.x_id)))
        conv = f"{low}-{high}"
        return Inbound(
            channel=Channel.X, external_id=event, authors=self.x_authors(p), text=text,
            created_at=t, author_name=p.name, thread_keys=(f"x:dm:{conv}",),
            parent_keys=(f"x:dm:{conv}",),
            meta={"kind": "dm", "dm_event_id": event[3:], "dm_conversation_id": conv,
                  "event_type": "MessageCreate", "sender_id": p.x_id, "username": p.handle,
                  "participant_ids": [p.x_id, BRAND_X_USER_ID]})

    def email(self, p: _Person, t: datetime, text: str, subject: str, *,
              parents: tuple[str, ...] = (), quoted: str | None = None,
              automated: bool = False) -> Inbound:
        mid = self._message_id()
        rng = self.rng
        html = None
        if not automated and rng.random() < 0.5:
            html = "".join(f"<p>{escape(part).replace(chr(10), '<br>')}</p>"
                           for part in text.split("\n\n"))
        attachments: tuple[Attachment, ...] = ()
        if not automated and not parents and rng.random() < 0.06:
            attachments = (rng.choice((
                Attachment("bill.pdf", "application/pdf", rng.randint(40_000, 300_000)),
                Attachment("speedtest.png", "image/png", rng.randint(80_000, 900_000)),
                Attachment("IMG_" + str(rng.randint(1000, 9999)) + ".jpg", "image/jpeg",
                           rng.randint(500_000, 3_000_000)))),)
        meta: dict[str, object] = {"message_id": mid, "to": [SUPPORT_EMAIL],
                                   "from": p.email.lower(),
                                   "in_reply_to": parents[-1] if parents else None,
                                   "references": list(parents)}
        return Inbound(
            channel=Channel.EMAIL, external_id=mid,
            authors=(IdentityRef("email", p.email.lower(), label=p.name),), text=text,
            created_at=t, author_name=p.name, subject=subject, html=html, quoted=quoted,
            thread_keys=(f"mid:{mid}",), parent_keys=tuple(f"mid:{m}" for m in parents),
            automated=automated, attachments=attachments, meta=meta)

    def form(self, p: _Person, t: datetime, text: str, subject: str | None,
             topic: str) -> Inbound:
        authors = [IdentityRef("email", p.email.lower(), label=p.name)]
        meta: dict[str, object] = {"form": "contact", "topic": _FORM_TOPICS[topic],
                                   "email": p.email.lower(), "name": p.name}
        if p.phone and self.rng.random() < 0.7:
            authors.append(IdentityRef("phone", p.phone))
            meta["phone"] = p.phone
        if "x" in p.channels:
            authors.append(IdentityRef("x_handle", p.handle.lower()))
            meta["x_handle"] = p.handle
        return Inbound(
            channel=Channel.WEBFORM, external_id=self._form_id(), authors=tuple(authors),
            text=text, created_at=t, author_name=p.name,
            subject=f"Contact form: {subject}" if subject else None, meta=meta)

    # -- journeys --------------------------------------------------------------------------

    def journey(self, p: _Person, steps: list[str]) -> None:
        """One customer's contact about one topic, over one or more channels in turn."""
        rng = self.rng
        topics = list(_TOPICS) if p.lang == "en" else list(_L10N[p.lang])
        topic = rng.choices(topics, [_TOPICS[k][0] for k in topics])[0]
        agent = rng.choice(DEMO_AGENTS)[0] if rng.random() > 0.05 else None
        tags: tuple[str, ...] = (_TOPICS[topic][1],) if rng.random() < 0.85 else ()
        if topic in ("complaint", "contract") and rng.random() < 0.3:
            tags += ("churn-risk",)
        if rng.random() < 0.04:
            tags += ("vip",)
        if topic == "praise":
            steps = steps[:1]
        t = self.when()
        slots = self.slots(p, t)
        prev: str | None = None
        last_reply: str | None = None  # agent text the next step's email may quote
        for index, kind in enumerate(steps):
            if t > self.end:
                return
            nxt = steps[index + 1] if index + 1 < len(steps) else None
            t, last_reply = self.thread(p, kind, topic, slots, t, prev, nxt, agent, tags,
                                        last_reply)
            prev = kind

    def thread(self, p: _Person, kind: str, topic: str, slots: dict[str, str], t: datetime,
               prev: str | None, nxt: str | None, agent: str | None, tags: tuple[str, ...],
               quoted_reply: str | None) -> tuple[datetime, str | None]:
        """Draft one conversation; return when the customer moves on, and the last reply."""
        rng = self.rng
        count = rng.choices((1, 2, 3, 4), (50, 31, 13, 6))[0]
        if kind == "webform" or topic == "praise":
            count = 1
        long = kind == "email" and p.lang == "en" and rng.random() < 0.04
        steps: list[_Step] = []
        conv: str | None = None
        last_tid: str | None = None
        mids: list[str] = []
        subject: str | None = None
        last_reply: str | None = None
        for i in range(count):
            if t > self.end:
                break
            final = i == count - 1
            answered = bool(steps) and steps[-1].reply_after is not None
            closing = final and nxt is None and answered and rng.random() < 0.35
            if i == 0 and kind == "email" and prev == "webform" and quoted_reply:
                text = self.follow_up(kind, p, slots, True)  # answers our email about the form
                subject = None
            elif i == 0 and kind == "dm" and prev == "mention" and p.lang != "en":
                text = self.follow_up(kind, p, slots, True)  # the details the agent asked for
            elif i == 0:
                text, subject = self.opening(kind, topic, p, slots, prev, long)
            else:
                text = self.follow_up(kind, p, slots, answered, closing)
            if kind == "mention":
                inbound = self.tweet(p, t, text, conv=conv, parent=last_tid)
                conv = conv or inbound.external_id
                last_tid = inbound.external_id
            elif kind == "dm":
                inbound = self.dm(p, t, text)
            elif kind == "webform":
                inbound = self.form(p, t, text, subject, topic)
            else:
                quoted = None
                if i == 0 and quoted_reply and prev == "webform":
                    subject = f"Re: Your {BRAND_NAME} enquiry {slots['ref']}"
                    quoted = _quote(t - timedelta(hours=2), f"{BRAND_NAME} Support",
                                    SUPPORT_EMAIL, quoted_reply)
                elif i > 0 and answered and last_reply:
                    quoted = _quote(t - timedelta(hours=1), f"{BRAND_NAME} Support",
                                    SUPPORT_EMAIL, last_reply)
                elif i > 0:
                    quoted = _quote(steps[-1].inbound.created_at, p.name, p.email,
                                    steps[-1].inbound.text)
                subj = subject if i == 0 or (subject or "").startswith("Re:") else f"Re: {subject}"
                inbound = self.email(p, t, text, subj or "(no subject)", parents=tuple(mids),
                                     quoted=quoted)
                mids.append(inbound.external_id)
            step = _Step(inbound)
            steps.append(step)
            # What the agent does, and when the customer writes next.
            respond = not final and rng.random() < 0.7
            age = self.end - t
            recent = age < timedelta(days=2)
            reply_chance = 0.6 if recent else 0.93
            fix_chance = 0.15 if recent else 0.45 if age < timedelta(days=7) else 0.72
            if final and nxt is not None:
                what = {"dm": "to_dm", "webform": "to_form", "email": "to_email"}.get(nxt, "hold")
                if kind == "webform" and nxt == "email":
                    what = "ask"  # answered by email; the customer replies to that email
                reply = rng.random() < 0.75
            elif closing:
                reply = rng.random() < 0.8
                what = "glad"
            elif final:
                reply = rng.random() < reply_chance
                what = "fix" if rng.random() < fix_chance else "hold"
            else:
                reply = respond
                what = "ask"
            if topic == "praise" and what in ("ask", "hold"):
                what = "fix"
            delay = self.reply_delay(kind, t) if reply else None
            if delay is not None and t + delay <= self.end:
                step.reply_after = delay
                step.reply_text = self.agent_text(kind, topic, p, slots, what, agent)
                step.resolve = final and what in ("fix", "glad", "to_dm", "to_form", "to_email")
                last_reply = step.reply_text
                answered_at = t + delay
                if kind == "email" and rng.random() < 0.05:
                    self.out_of_office(p, answered_at, subject or "", mids)
                t = answered_at + self.customer_delay(kind)
            else:
                gap = self.customer_delay(kind).total_seconds() * rng.uniform(1.0, 3.0)
                t = t + timedelta(seconds=int(gap))
        for index, step in enumerate(steps):
            self.items.append(DemoItem(
                inbound=step.inbound, reply_after=step.reply_after, reply_text=step.reply_text,
                resolve=step.resolve,
                assignee=agent if step.reply_after is not None or rng.random() < 0.6 else None,
                tags=tags if index == 0 else ()))
        return t, last_reply

    def out_of_office(self, p: _Person, t: datetime, subject: str, mids: list[str]) -> None:
        t += timedelta(seconds=self.rng.randint(5, 90))
        if t > self.end or not mids:
            return
        back = (t + timedelta(days=self.rng.randint(2, 10))).strftime("%d/%m")
        text = (f"Thank you for your email. I am out of the office until {back} with limited "
                f"access to email. For anything urgent please call me.\n\n{p.name}")
        self.items.append(DemoItem(self.email(
            p, t, text, f"Automatic reply: Re: {subject}", parents=tuple(mids), automated=True)))

    def listening(self, authors: list[_Person], count: int) -> None:
        rng = self.rng
        for _ in range(count):
            p = rng.choice(authors)
            t = self.when()
            slots = self.slots(p, t)
            if p.lang != "en":
                template = rng.choice(_LISTENING_L10N[p.lang])
            else:
                template = rng.choice(_LISTENING_EN)
            text = template.format(**slots)
            rule = next((r for r in _LISTENING_RULES
                         if any(w in text.lower() for w in r.split(" OR "))), "northwind")
            self.items.append(DemoItem(self.tweet(p, t, text, listening=True, rule=rule)))


def generate(now: datetime, *, days: int = 30, seed: int = 7,
             customers: int = 120) -> list[DemoItem]:
    """`days` of inbound traffic ending at `now` (timezone-aware) from `customers` customers.

    About 16 items per customer-month; the same arguments always give the same items, sorted
    by `inbound.created_at`. Keyword-listening hits also come from a pool of public X
    accounts that are not customers.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if days < 1 or customers < 1:
        raise ValueError("days and customers must be at least 1")
    rng = random.Random(seed)
    end = now.astimezone(UTC).replace(microsecond=0)
    gen = _Gen(rng, end, days)

    # Exact shares, shuffled: about 30% of customers write on two or three channels.
    n_multi = max(1, round(customers * 0.3))
    mixes = _spread(rng, customers - n_multi, ((("email",), 46), (("x",), 40),
                                               (("webform",), 14)))
    mixes += _spread(rng, n_multi, ((("x", "webform"), 30), (("email", "webform"), 25),
                                    (("x", "email", "webform"), 45)))
    rng.shuffle(mixes)
    people = [gen.person(channels) for channels in mixes]

    journeys = max(customers, round(customers * days / 30 * 7.8))
    weights = [p.weight for p in people]
    owners = list(range(customers)) + rng.choices(range(customers), weights,
                                                  k=journeys - customers)
    first_seen: set[int] = set()
    for owner in owners:
        p = people[owner]
        steps = _plan(rng, p, multi_step=owner not in first_seen or rng.random() < 0.3)
        first_seen.add(owner)
        gen.journey(p, steps)

    care = len(gen.items)
    public = [gen.person(("x",)) for _ in range(max(3, customers // 3))]
    x_customers = [p for p in people if "x" in p.channels]
    gen.listening(public + x_customers[: len(public) // 3], max(1, round(care * 0.06)))

    gen.items.sort(key=lambda it: (it.inbound.created_at, it.inbound.channel,
                                   it.inbound.external_id))
    return gen.items


def _spread(rng: random.Random, count: int,
            shares: tuple[tuple[tuple[str, ...], int], ...]) -> list[tuple[str, ...]]:
    """`count` channel mixes in proportion to `shares` (remainders drawn at random)."""
    total = sum(weight for _, weight in shares)
    out = [mix for mix, weight in shares for _ in range(count * weight // total)]
    out += rng.choices([mix for mix, _ in shares], [w for _, w in shares], k=count - len(out))
    return out


def _plan(rng: random.Random, p: _Person, *, multi_step: bool) -> list[str]:
    """The channels, in order, a customer uses for one journey."""
    ch = p.channels
    if len(ch) > 1 and multi_step:
        options = {
            ("x", "webform"): (["mention", "dm", "webform"], ["mention", "webform"],
                               ["dm", "webform"], ["webform", "mention"]),
            ("email", "webform"): (["webform", "email"], ["email", "webform"]),
            ("x", "email", "webform"): (["mention", "webform", "email"],
                                        ["dm", "webform", "email"],
                                        ["mention", "dm", "webform"],
                                        ["webform", "email", "mention"]),
        }[ch]
        return list(rng.choice(options))
    channel = rng.choice(ch)
    if channel == "x":
        if rng.random() < 0.85:
            return ["mention", "dm"] if rng.random() < 0.12 else ["mention"]
        return ["dm"]
    return [channel]


def _quote(t: datetime, name: str, address: str, text: str) -> str:
    when = t.astimezone(LOCAL_TZ).strftime("%a, %d %b %Y at %H:%M")
    lines = "\n".join(f"> {line}" if line else ">" for line in text.splitlines())
    return f"On {when}, {name} <{address}> wrote:\n{lines}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _display_phone(e164: str) -> str:
    return f"0{e164[3:7]} {e164[7:]}" if e164.startswith("+44") else e164


def _ascii(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.replace("ß", "ss"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))
