"""Vocabulary of the demo brand, Northwind Mobile: names, topics, message templates.

Data only; the generator (`inbox.app.demo.generator`) draws from it.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

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

B = "@" + BRAND_HANDLE
TWITTER_EPOCH_MS = 1288834974657
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
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
MAIL_DOMAINS = ("example.com", "example.org", "example.net", "post.example", "inbox.example",
                 "mailbox.example")
TOWNS = (("Leeds", "LS"), ("Manchester", "M"), ("Bristol", "BS"), ("Glasgow", "G"),
          ("Cardiff", "CF"), ("Brighton", "BN"), ("Norwich", "NR"), ("York", "YO"),
          ("Nottingham", "NG"), ("Leicester", "LE"), ("Sheffield", "S"), ("Newcastle", "NE"),
          ("Reading", "RG"), ("Oxford", "OX"), ("Belfast", "BT"), ("Edinburgh", "EH"),
          ("Croydon", "CR"), ("Hackney", "E"))
PLANS = ("SIM Only 30GB", "Unlimited 5G", "Fibre 150", "Fibre 500", "Family Share",
          "Essentials 10GB", "Fibre 900", "Unlimited Max")
DEVICES = ("iPhone 15", "iPhone 16 Pro", "Pixel 9", "Galaxy S24", "Galaxy A55", "Hub 3 router",
            "Moto G84", "iPhone 13")
COUNTRIES = ("Spain", "France", "Portugal", "Italy", "Greece", "the USA", "Turkey", "Croatia")
PROVIDERS = ("Contoso Telecom", "Fabrikam Mobile", "Litware Broadband", "Tailspin Mobile")
X_ACCOUNTS = {BRAND_HANDLE: BRAND_X_USER_ID, "ofcom": "1500000000000000042"}  # handle -> id
EMOJI = {
    "neg": ("😡", "🤬", "😤", "🙄", "😩", "👎", "💸", "📵", "🤦"),
    "pos": ("🙌", "👏", "😊", "💜", "🎉", "👍", "✨", "🚀"),
    "neu": ("🤔", "📱", "🙏", "👀"),
}

# Topic -> (weight, tag, mood). Mood: "neg", "neu" or "pos" (emoji and replies follow it).
TOPICS: dict[str, tuple[int, str, str]] = {
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
FORM_TOPICS = {"billing": "Billing", "refund": "Billing", "invoice": "Billing",
                "outage": "Technical fault", "no_signal": "Technical fault",
                "speed": "Technical fault", "roaming": "Roaming", "contract": "Upgrades",
                "porting": "Switching", "praise": "Feedback", "complaint": "Complaint"}

# English templates per topic: tweets (mentions), DMs, email subjects, email paragraphs.
EN_TWEETS: dict[str, tuple[str, ...]] = {
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
EN_DMS: dict[str, tuple[str, ...]] = {
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
EN_SUBJECTS: dict[str, tuple[str, ...]] = {
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
EN_PARAS: dict[str, tuple[str, ...]] = {
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
EN_FORMS: dict[str, tuple[str, ...]] = {
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
EN_LONG = (
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
EN_RESPOND = (
    "Thanks. My account number is {account}.",
    "I've tried that already, still the same.",
    "Done, restarted it twice. No change.",
    "OK, thanks for looking into it. How long will it take?",
    "That's not good enough. I want this escalated.",
    "Postcode is {postcode}, number ends {last4}.",
    "Right, so what happens now?",
)
EN_THANKS = (
    "That's fixed it, thank you!",
    "All working now, thanks for your help.",
    "Great, that's sorted. Thanks!",
)
EN_CHASE = (
    "Any update on this?",
    "Hello? Still waiting for a reply.",
    "It's been {hours} hours. Is anyone actually reading these?",
    "Chasing this again. Still not sorted.",
    "Still nothing. Really poor.",
)
EN_SWITCH = {  # (earlier channel, this channel): how the customer refers to the earlier contact
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
EN_GREET = ("Hi,", "Hello,", "Dear Northwind Mobile,", "Hi there,", "To whom it may concern,",
             "Good morning,")
EN_SIGN = ("Thanks,\n{name}", "Regards,\n{name}", "Kind regards,\n{name}\nMobile: {phone}",
            "Cheers,\n{first}", "{first}\n\nSent from my iPhone", "Many thanks\n{name}")
EN_SHORT = ("Thanks in advance.", "I look forward to hearing from you.",
             "Please could someone get back to me today.", "")

# Other languages: fewer topics and templates. No month or weekday names in these (slots are
# English); dates are dd/mm.
L10N: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {
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
L10N_MISC = {  # greeting, sign-offs, follow-ups (respond, chase), agent replies
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
FIX: dict[str, tuple[str, ...]] = {
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
ASK = ("sorry to hear that. Could you send us a DM with your account number so we can look "
        "into it?",
        "we'd like to help. Please DM us your account number and postcode.")
TO_FORM = ("to verify your account, please fill in the form at " + FORM_URL + " and we'll "
            "pick it up from there.",)
TO_EMAIL = ("please email us at " + SUPPORT_EMAIL + " with the details and we'll sort it.",)
NEED_INFO = ("could you confirm your account number and the postcode of the service "
              "address?",
              "could you try restarting your device and let us know if that changes anything?",
              "thanks for the details. We're checking this now.")
GLAD = ("glad to hear that's sorted! If anything else comes up, just get in touch.",
         "great news, thanks for letting us know.")
HOLD = ("we've raised this with the technical team (ref {ref}) and will update you as soon "
         "as we hear back.",
         "we're still looking into this and will come back to you within 24 hours.")

LISTENING_EN = (
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
LISTENING_L10N = {
    "es": ("¿Alguien usa Northwind Mobile en Reino Unido? ¿Qué tal la cobertura?",),
    "fr": ("Quelqu'un connaît Northwind Mobile ? Le roaming est inclus ?",),
    "de": ("Hat jemand Erfahrung mit Northwind Mobile in {town}?",),
}
LISTENING_RULES = ("northwind", "broadband OR fibre", "5G OR signal", "roaming", "switching "
                    "provider")

# Relative volume by local hour (care team's time zone); weekends carry less traffic.
HOURLY = (0.08, 0.05, 0.04, 0.03, 0.03, 0.05, 0.12, 0.3, 0.62, 0.9, 1.0, 1.0, 0.92, 0.95,
           0.97, 0.9, 0.82, 0.7, 0.58, 0.55, 0.5, 0.42, 0.28, 0.15)
WEEKEND = 0.55

# Internal notes an agent leaves on a conversation, by its last tag.
NOTES = {
    "churn-risk": ("Churn risk: offer the loyalty discount before they call to cancel.",
                   "Mentioned leaving twice. Retention team copied, please keep them posted."),
    "vip": ("Business account (12 lines): keep the same agent on this one.",
            "Press contact, escalate anything unusual to Maya before replying."),
    "complaint": ("Formal complaint: log it in the complaints register within 24h.",),
}
